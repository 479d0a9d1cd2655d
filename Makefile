# The two commands: `make run` and `make test`. Everything else is a helper of theirs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
AMQP_URL ?= $(or $(TASKHOOK_AMQP_URL),amqp://guest:guest@127.0.0.1:5672/)
# Where the tasks store's tests create (and drop) a database of their own per test.
POSTGRES_URL ?= $(or $(TASKHOOK_TEST_POSTGRES_URL),postgresql+asyncpg://postgres@127.0.0.1:5432/postgres)
# CI and fresh machines get a broker installed; a developer's machine is only told how.
INSTALL_BROKER := $(if $(CI),--install,)
TEST_ENV := TASKHOOK_TEST_AMQP_URL=$(AMQP_URL) TASKHOOK_TEST_POSTGRES_URL=$(POSTGRES_URL)

.PHONY: run test check lint typecheck deploy-check unit integration chaos soak format schema bench broker clean

run: $(VENV)/.installed broker
	scripts/run-dev $(BIN)

test: $(VENV)/.installed
	scripts/ensure-rabbitmq $(AMQP_URL) --install
	scripts/ensure-postgres --install
	$(MAKE) --no-print-directory check
	$(TEST_ENV) $(BIN)/pytest

check: lint typecheck deploy-check
	$(BIN)/taskhook schema --check

# The deployment files, offline: the Dockerfile's lint, and every manifest against the API schemas.
# That they agree with the code is tested in tests/deploy.
deploy-check: $(VENV)/.installed
	$(BIN)/hadolint docker/Dockerfile
	$(BIN)/python scripts/validate_manifests.py k8s

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

unit: $(VENV)/.installed
	$(BIN)/pytest tests/unit

integration: $(VENV)/.installed
	scripts/ensure-rabbitmq $(AMQP_URL) $(INSTALL_BROKER)
	scripts/ensure-postgres $(INSTALL_BROKER)
	$(TEST_ENV) $(BIN)/pytest tests/integration

# The long runs, not part of `make test`. Both hurt or load the shared broker: on a shared
# machine run them under `flock -x /tmp/taskhook-machine.lock`.
chaos: $(VENV)/.installed broker
	$(TEST_ENV) $(BIN)/pytest tests/faults -m chaos -s

soak: $(VENV)/.installed broker
	$(TEST_ENV) $(BIN)/pytest tests/faults -m soak -s

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: $(VENV)/.installed
	$(BIN)/taskhook schema

# Not part of `make test`: several minutes of full load, and figures rather than verdicts.
bench: $(VENV)/.installed broker
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } \
		|| { echo "bench: needs wrk (sudo apt-get install wrk)" >&2; exit 1; }
	$(BIN)/python -m tests.bench.run $(BENCH_ARGS)

broker:
	scripts/ensure-rabbitmq $(AMQP_URL) $(INSTALL_BROKER)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) *.egg-info .mypy_cache .ruff_cache .pytest_cache
