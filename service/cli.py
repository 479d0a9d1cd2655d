"""The composition root: the only place that reads the environment and builds real adapters."""

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, get_args

import uvloop
from pydantic import ValidationError

from service.core.task import TaskPhase, TaskType
from service.logs import configure_logging
from service.settings import DEFAULT_AMQP_URL, ENV_PREFIX, ConsumerSettings, Settings
from service.workers import WORKER_FLAG, run_workers

# Each command imports what only it needs when it runs: `taskhook serve` must be ready within
# a second, and the consumers' database stack alone takes longer than that to import.

log = logging.getLogger("service")

# Known to everyone, so only ever used by `taskhook serve --dev` (what `make run` starts).
DEV_SECRET = "taskhook-dev-secret"  # noqa: S105
SCHEMA_PATH = Path(__file__).parent / "schema" / "event.schema.json"
EXIT_BAD_CONFIG = 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "serve": _serve_command,
        "schema": lambda args: _schema(check=args.check),
        "send": _send,
        "consume": lambda args: _consume(args.consumer),
        "consumers": lambda args: _list_consumers(),
        "tasks": _tasks,
        "tail": _tail,
    }
    return commands[args.command](args)


def _serve_command(args: argparse.Namespace) -> int:
    if args.workers == 1:
        return _serve(dev=args.dev, reuse_port=args.worker)
    if load_settings(dev=args.dev) is None:  # said once here, not once per worker
        return EXIT_BAD_CONFIG
    return run_workers(args.workers, ["--dev"] if args.dev else [])


def _serve(*, dev: bool, reuse_port: bool = False) -> int:
    from service.broker.publisher import AmqpPublisher
    from service.http.app import create_app
    from service.metrics import Metrics
    from service.server import serve_until_stopped

    settings = load_settings(dev=dev)
    if settings is None:
        return EXIT_BAD_CONFIG
    configure_logging(settings.log_level)
    if settings.secret_keys == (DEV_SECRET.encode(),):
        log.warning(
            "DEVELOPMENT SECRET IN USE: never register this instance in Livepeer Studio",
            extra={"dev_secret": DEV_SECRET},
        )
    metrics = Metrics.create()
    app = create_app(settings, AmqpPublisher.from_settings(settings, metrics), metrics)
    uvloop.run(
        serve_until_stopped(
            app,
            host=settings.host,
            port=settings.port,
            drain_delay_s=settings.drain_delay_s,
            grace_s=settings.shutdown_grace_s,
            keepalive_timeout_s=settings.keepalive_timeout_s,
            reuse_port=reuse_port,
        )
    )
    return 0


def _send(args: argparse.Namespace) -> int:
    from service import devtools

    body = args.file.read_bytes()
    return uvloop.run(devtools.send_sample(body, url=args.url, secret=_send_secret(args)))


def _tail(args: argparse.Namespace) -> int:
    from service import devtools

    return uvloop.run(devtools.tail(_amqp_url(), args.exchange, args.patterns))


def _consume(reference: str) -> int:
    from service.consumers import registry
    from service.consumers.process import run_consumer

    settings = _consumer_settings()
    if settings is None:
        return EXIT_BAD_CONFIG
    if ":" in reference and os.getcwd() not in sys.path:
        # As `python -m` would: a consumer module beside you can be named without installing it.
        sys.path.insert(0, os.getcwd())
    try:
        consumer = registry.find(reference)
    except registry.ConsumerNotFound as e:
        print(f"taskhook: {e}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    configure_logging(settings.log_level)
    try:
        uvloop.run(run_consumer(consumer, settings))
    except Exception as e:  # e.g. its database is unreachable: one line, then a restart helps
        log.error(
            "consumer stopped by an error",
            extra={"consumer": consumer.name, "error": type(e).__name__, "detail": str(e)[:500]},
            exc_info=log.isEnabledFor(logging.DEBUG),
        )
        return 1
    return 0


def _list_consumers() -> int:
    from service.consumers import registry

    for name, consumer in registry.registered().items():
        print(f"{name}\t{' '.join(consumer.bindings)}\t{consumer.summary}")
    return 0


def _tasks(args: argparse.Namespace) -> int:
    from service.tasks import reading
    from service.tasks.store import SchemaMissing, TaskStore
    from service.tasks.views import TaskQuery

    settings = _consumer_settings()
    if settings is None:
        return EXIT_BAD_CONFIG
    store = TaskStore.connect(settings.database_url.get_secret_value())
    try:
        if args.tasks_command == "show":
            return uvloop.run(reading.show_task(store, args.task_id))
        try:
            query = TaskQuery(phase=args.phase, type=args.type, limit=args.limit)
        except ValidationError:
            print("taskhook: --limit must be 1 to 500", file=sys.stderr)
            return EXIT_BAD_CONFIG
        return uvloop.run(reading.list_tasks(store, query, as_json=args.json))
    except SchemaMissing as e:
        print(f"taskhook: {e}", file=sys.stderr)
        return 1


def _consumer_settings() -> ConsumerSettings | None:
    try:
        return ConsumerSettings()
    except ValidationError as e:
        print(f"taskhook: bad configuration: {describe_settings_error(e)}", file=sys.stderr)
        return None


def load_settings(*, dev: bool = False) -> Settings | None:
    """Settings from the environment, or None after printing one line that names the culprit."""
    overrides = {}
    if dev and not os.environ.get(f"{ENV_PREFIX}WEBHOOK_SECRETS"):
        overrides["webhook_secrets"] = DEV_SECRET
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # validated like the environment
    except ValidationError as e:
        print(f"taskhook: bad configuration: {describe_settings_error(e)}", file=sys.stderr)
        return None


def describe_settings_error(error: ValidationError) -> str:
    """``TASKHOOK_PORT: Input should be ...; ...``: variable names, never the values."""
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        name = f"{ENV_PREFIX}{str(item['loc'][0]).upper()}: " if item["loc"] else ""
        parts.append(f"{name}{item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def _schema(*, check: bool) -> int:
    import orjson

    from service.core.message import published_event_schema

    text = orjson.dumps(published_event_schema(), option=orjson.OPT_INDENT_2).decode() + "\n"
    if not check:
        SCHEMA_PATH.write_text(text)
        print(f"wrote {SCHEMA_PATH}")
        return 0
    if SCHEMA_PATH.read_text() != text:
        print(f"{SCHEMA_PATH} is out of date: run `taskhook schema`", file=sys.stderr)
        return 1
    return 0


def _amqp_url() -> str:
    return os.environ.get(f"{ENV_PREFIX}AMQP_URL", DEFAULT_AMQP_URL)


def _send_secret(args: argparse.Namespace) -> str:
    if args.secret:
        return str(args.secret)
    configured = os.environ.get(f"{ENV_PREFIX}WEBHOOK_SECRETS", "")
    return configured.split(",")[0].strip() or DEV_SECRET


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="taskhook", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the webhook endpoint")
    serve.add_argument(
        "--dev", action="store_true", help=f"with no secret configured, use {DEV_SECRET!r}"
    )
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="processes sharing the port (SO_REUSEPORT); about one per core (default: 1)",
    )
    serve.add_argument(WORKER_FLAG, action="store_true", help=argparse.SUPPRESS)
    schema = commands.add_parser("schema", help="write the published event's JSON Schema")
    schema.add_argument("--check", action="store_true", help="fail if the file is out of date")
    send = commands.add_parser("send", help="sign a sample delivery as Livepeer would and POST it")
    send.add_argument("file", type=Path)
    send.add_argument("--url", default="http://127.0.0.1:8080/webhooks/livepeer")
    send.add_argument(
        "--secret", help="default: the first TASKHOOK_WEBHOOK_SECRETS, or the dev one"
    )
    consume = commands.add_parser("consume", help="run one consumer until SIGTERM")
    consume.add_argument("consumer", help="a registered name (see `consumers`) or module:attribute")
    commands.add_parser("consumers", help="list the registered consumers and their bindings")
    _add_tasks_parser(commands)
    tail = commands.add_parser("tail", help="bind a temporary queue and print what is published")
    tail.add_argument("patterns", nargs="*", default=["#"], help="binding keys (default: #)")
    tail.add_argument("--exchange", default="livepeer.tasks")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _add_tasks_parser(commands: Any) -> None:
    tasks = commands.add_parser("tasks", help="read what the tasks consumer recorded")
    actions = tasks.add_subparsers(dest="tasks_command", required=True)
    listing = actions.add_parser("list", help="the most recently updated tasks first")
    listing.add_argument("--phase", action="append", default=[], choices=get_args(TaskPhase))
    listing.add_argument("--type", action="append", default=[], choices=get_args(TaskType))
    listing.add_argument("--limit", type=int, default=50, help="1 to 500 (default: 50)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    show = actions.add_parser("show", help="one task's state and output, as JSON")
    show.add_argument("task_id")
