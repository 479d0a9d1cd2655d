# The two commands: `make run` and `make test`. Everything else is a helper of theirs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
AMQP_URL ?= $(or $(TASKHOOK_AMQP_URL),amqp://guest:guest@127.0.0.1:5672/)
# Where the tasks store's tests create (and drop) a database of their own per test.
POSTGRES_URL ?= $(or $(TASKHOOK_TEST_POSTGRES_URL),postgresql+asyncpg://postgres@127.0.0.1:5432/postgres)
# CI and fresh machines get a broker installed; a developer's machine is only told how.
INSTALL_BROKER := $(if $(CI),--install,)
# Where the shared-dedup tests write (keys of their own, removed after).
REDIS_URL ?= $(or $(TASKHOOK_TEST_REDIS_URL),redis://127.0.0.1:6379/0)
TEST_ENV := TASKHOOK_TEST_AMQP_URL=$(AMQP_URL) TASKHOOK_TEST_POSTGRES_URL=$(POSTGRES_URL) \
	TASKHOOK_TEST_REDIS_URL=$(REDIS_URL)

.PHONY: run test check lint typecheck deploy-check unit integration chaos soak cluster cluster-stop cluster-test format schema asyncapi-check bench bench-index bench-console broker lock clean

run: $(VENV)/.installed broker
	scripts/run-dev $(BIN)

test: $(VENV)/.installed
	scripts/ensure-rabbitmq $(AMQP_URL) --install
	scripts/ensure-postgres --install
	scripts/ensure-redis --install
	scripts/ensure-chromium --install
	scripts/ensure-promtool $(BIN)
	$(MAKE) --no-print-directory check
	$(TEST_ENV) $(BIN)/pytest

check: lint typecheck deploy-check asyncapi-check
	$(BIN)/taskhook schema --check
	$(BIN)/taskhook schema --asyncapi --check
	$(BIN)/taskhook schema --handler-fields --check

# docs/asyncapi.json against the official AsyncAPI parser, which checks it as other teams' tools
# will read it (`taskhook schema --asyncapi --check` says whether it is current). npm ci again
# whenever the lock file changes; --ignore-scripts because the parser is plain JavaScript and
# one of its dependencies' install script only reports usage to its maker.
NODE_TOOLS := scripts/asyncapi
asyncapi-check: $(NODE_TOOLS)/node_modules/.package-lock.json
	node $(NODE_TOOLS)/validate.mjs docs/asyncapi.json

$(NODE_TOOLS)/node_modules/.package-lock.json: $(NODE_TOOLS)/package.json $(NODE_TOOLS)/package-lock.json
	npm ci --prefix $(NODE_TOOLS) --ignore-scripts --no-audit --no-fund

# The deployment files, offline: the Dockerfiles' lint, and what kustomize renders (every overlay,
# the base with every combination of components) against the API schemas. kubectl's own
# kustomize renders it, the tool users run: kubectl comes with this project's machine image
# (PyPI has no kubectl wheel, Debian's is 1.20, too old for components), and the script says so
# in one line where it is missing. That the files agree with the code is tested in tests/deploy.
deploy-check: $(VENV)/.installed
	$(BIN)/hadolint docker/Dockerfile docs/examples/my-consumers/Dockerfile
	$(BIN)/python scripts/validate_manifests.py k8s

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

# Everything that needs no broker: the unit and deploy tiers (the alert tests need promtool).
# A -m here replaces pyproject's (the last one wins), so it repeats the long runs' exclusion;
# tests/deploy/test_tiers.py checks what it selects.
unit: $(VENV)/.installed
	scripts/ensure-promtool $(BIN)
	$(BIN)/pytest -m 'not broker and not image and not chaos and not soak and not cluster'

integration: $(VENV)/.installed
	scripts/ensure-rabbitmq $(AMQP_URL) $(INSTALL_BROKER)
	scripts/ensure-postgres $(INSTALL_BROKER)
	scripts/ensure-redis $(INSTALL_BROKER)
	$(TEST_ENV) $(BIN)/pytest tests/integration

# The long runs, not part of `make test`. Both hurt or load the shared broker: on a shared
# machine run them under `flock -x /tmp/taskhook-machine.lock`.
chaos: $(VENV)/.installed broker
	$(TEST_ENV) $(BIN)/pytest tests/faults -m chaos -s

soak: $(VENV)/.installed broker
	$(TEST_ENV) $(BIN)/pytest tests/faults -m soak -s

# A three-node RabbitMQ cluster of the tests' own (ports 5681-5683, never the machine's 5672):
# `make cluster` starts it and prints its TASKHOOK_AMQP_URL, `make cluster-stop` removes it,
# `make cluster-test` runs the cluster tier against it (minutes; under flock on a shared machine).
cluster: $(VENV)/.installed
	$(BIN)/python -m tests.support.cluster start

cluster-stop: $(VENV)/.installed
	$(BIN)/python -m tests.support.cluster stop

cluster-test: $(VENV)/.installed
	@command -v haproxy >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq haproxy >/dev/null; } \
		|| { echo "cluster-test: needs haproxy (sudo apt-get install haproxy)" >&2; exit 1; }
	$(TEST_ENV) $(BIN)/pytest tests/cluster -m cluster -s

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The contract, from the models: the body's JSON Schema (packaged), the AsyncAPI document, and
# the handler's field reference.
schema: $(VENV)/.installed
	$(BIN)/taskhook schema --output service/taskhook/schema/event.schema.json
	$(BIN)/taskhook schema --asyncapi --output docs/asyncapi.json
	$(BIN)/taskhook schema --handler-fields --output docs/handler-fields.md

# Not part of `make test`: several minutes of full load, and figures rather than verdicts.
# PostgreSQL for the tasks consumer's drain on it.
bench: $(VENV)/.installed broker
	scripts/ensure-postgres $(INSTALL_BROKER)
	$(BIN)/pip install --quiet --require-hashes -r requirements/bench.txt
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } \
		|| { echo "bench: needs wrk (sudo apt-get install wrk)" >&2; exit 1; }
	$(TEST_ENV) $(BIN)/python -m tests.bench.run $(BENCH_ARGS)

# One task's timeline out of 1,000,000 indexed events, on SQLite and PostgreSQL (docs/history.md).
bench-index: $(VENV)/.installed
	scripts/ensure-postgres $(INSTALL_BROKER)
	$(TEST_ENV) $(BIN)/python -m tests.bench.index_lookup $(BENCH_ARGS)

# The console's task page (its row, outputs and timeline) with that million-event index.
bench-console: $(VENV)/.installed
	scripts/ensure-postgres $(INSTALL_BROKER)
	$(TEST_ENV) $(BIN)/python -m tests.bench.console_task_page $(BENCH_ARGS)

broker:
	scripts/ensure-rabbitmq $(AMQP_URL) $(INSTALL_BROKER)

# The exact versions of requirements/dev.txt (hashes checked), then taskhook itself on top.
$(VENV)/.installed: pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check
	touch $@

$(BIN)/uv: requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	touch $@

# Pin pyproject.toml's ranges to exact versions with hashes: after changing a dependency, or to
# take upgrades on purpose (`make lock UPGRADE=--upgrade`). The image installs runtime.txt,
# `make test` dev.txt, `make bench` bench.txt.
LOCK := $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" --quiet $(UPGRADE)
# Needs only uv, not taskhook installed: after a dependency is added to pyproject.toml, the
# venv cannot pass `pip check` until the lock files have it.
lock: $(BIN)/uv
	$(LOCK) --extra otel -o requirements/runtime.txt
	$(LOCK) --extra otel --extra dev -o requirements/dev.txt
	$(LOCK) --extra otel --extra dev --extra bench -o requirements/bench.txt

clean:
	rm -rf $(VENV) *.egg-info .mypy_cache .ruff_cache .pytest_cache
