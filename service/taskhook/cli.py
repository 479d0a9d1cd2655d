"""The composition root: the only place that reads the environment and builds real adapters."""

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import uvloop
from pydantic import ValidationError

from taskhook.arguments import parser
from taskhook.logs import configure_logging
from taskhook.settings import DEV_SECRET, ENV_PREFIX, CommonSettings, ConsumerSettings, Settings
from taskhook.workers import run_workers

if TYPE_CHECKING:
    from taskhook.consumers.consumer import Consumer

# Each command imports what only it needs when it runs: `taskhook serve` must be ready within
# a second, and the consumers' database stack alone takes longer than that to import.

log = logging.getLogger("taskhook")

SCHEMA_PATH = Path(__file__).parent / "schema" / "event.schema.json"
EXIT_BAD_CONFIG = 2
S = TypeVar("S", bound=CommonSettings)
TOOL_COMMANDS = frozenset({"tail", "inspect", "replay", "topology"})


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command in TOOL_COMMANDS:
        # Their failures are said in one line of our own; the libraries would add a traceback.
        for library in ("aio_pika", "aiormq"):
            logging.getLogger(library).setLevel(logging.CRITICAL + 1)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "serve": _serve_command,
        "schema": lambda args: _schema(check=args.check),
        "send": _send,
        "consume": lambda args: _consume(args.consumer),
        "consumers": lambda args: _list_consumers(),
        "tasks": _tasks,
        "tail": _tail,
        "inspect": _held,
        "replay": _held,
        "topology": _topology,
    }
    return commands[args.command](args)


def _serve_command(args: argparse.Namespace) -> int:
    if args.workers == 1:
        return _serve(dev=args.dev, reuse_port=args.worker)
    if load_settings(dev=args.dev) is None:  # said once here, not once per worker
        return EXIT_BAD_CONFIG
    return run_workers(args.workers, ["--dev"] if args.dev else [])


def _serve(*, dev: bool, reuse_port: bool = False) -> int:
    from taskhook.broker.publisher import AmqpPublisher
    from taskhook.http.app import create_app
    from taskhook.metrics import Metrics
    from taskhook.server import serve_until_stopped

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
    import orjson

    from taskhook.tools import send

    if args.file is None:
        documents = send.sample_life(args.type, args.event, args.count)
    else:
        try:
            document = orjson.loads(args.file.read_bytes())
        except (OSError, orjson.JSONDecodeError) as e:
            print(f"taskhook send: cannot read {args.file}: {e}", file=sys.stderr)
            return EXIT_BAD_CONFIG
        if not isinstance(document, dict):
            print(f"taskhook send: {args.file} is not a JSON object", file=sys.stderr)
            return EXIT_BAD_CONFIG
        documents = send.repeated(document, args.count)
    return uvloop.run(send.send(documents, url=args.url, secret=_send_secret(args), rate=args.rate))


def _tail(args: argparse.Namespace) -> int:
    from taskhook.broker.reconnect import BROKER_ERRORS
    from taskhook.tools.broker import ToolFailed
    from taskhook.tools.tail import tail

    settings = _settings(CommonSettings)
    if settings is None:
        return EXIT_BAD_CONFIG
    exchange = args.exchange or settings.exchange
    try:
        return uvloop.run(tail(settings.amqp_url.get_secret_value(), exchange, args.patterns))
    except (ToolFailed, *BROKER_ERRORS) as e:
        return _tool_failed("tail", e)


def _held(args: argparse.Namespace) -> int:
    from taskhook.broker.reconnect import BROKER_ERRORS
    from taskhook.broker.topology import Topology
    from taskhook.tools import held
    from taskhook.tools.broker import ToolFailed

    settings = _settings(CommonSettings)
    if settings is None:
        return EXIT_BAD_CONFIG
    topology = Topology(settings.exchange)
    queue = topology.held_queue(args.queue)
    if queue is None:
        print(
            f"taskhook {args.command}: {args.queue!r} is not a queue that holds messages back: "
            f"name {topology.rejected_queue}, {topology.unrouted_queue} or a consumer's "
            "taskhook.<name>.dead",
            file=sys.stderr,
        )
        return EXIT_BAD_CONFIG
    url = settings.amqp_url.get_secret_value()
    try:
        if args.command == "inspect":
            return uvloop.run(held.inspect(url, queue, limit=args.limit, as_json_lines=args.json))
        return uvloop.run(held.replay(url, queue, limit=args.limit, dry_run=args.dry_run))
    except (ToolFailed, *BROKER_ERRORS) as e:
        return _tool_failed(args.command, e)


def _topology(args: argparse.Namespace) -> int:
    from taskhook.broker.reconnect import BROKER_ERRORS
    from taskhook.broker.topology import Topology
    from taskhook.consumers import registry
    from taskhook.tools.broker import ToolFailed
    from taskhook.tools.provision import provision

    settings = _settings(ConsumerSettings)
    if settings is None:
        return EXIT_BAD_CONFIG
    try:
        consumers = [_find_consumer(name) for name in args.consumers] or list(
            registry.registered().values()
        )
    except registry.ConsumerNotFound as e:
        print(f"taskhook topology: {e}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    declarations = Topology(settings.exchange).declarations()
    for consumer in consumers:
        declarations += consumer.topology(settings).declarations()
    try:
        lines = uvloop.run(provision(settings.amqp_url.get_secret_value(), declarations))
    except (ToolFailed, *BROKER_ERRORS) as e:
        return _tool_failed("topology", e)
    print("\n".join(lines))
    return 0


def _consume(reference: str) -> int:
    from taskhook.consumers import registry
    from taskhook.consumers.process import run_consumer

    settings = _settings(ConsumerSettings)
    if settings is None:
        return EXIT_BAD_CONFIG
    try:
        consumer = _find_consumer(reference)
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


def _tool_failed(command: str, error: Exception) -> int:
    """One line for the operator: our own reason, or only the type of a broker error (its text
    can carry the URL)."""
    from taskhook.tools.broker import ToolFailed

    reason = str(error) if isinstance(error, ToolFailed) else type(error).__name__
    print(f"taskhook {command}: {reason}", file=sys.stderr)
    return 1


def _find_consumer(reference: str) -> "Consumer[Any]":
    """A registered consumer by name, or one a module beside you defines (``module:attribute``)."""
    from taskhook.consumers import registry

    if ":" in reference and os.getcwd() not in sys.path:
        # As `python -m` would: a consumer module beside you can be named without installing it.
        sys.path.insert(0, os.getcwd())
    return registry.find(reference)


def _list_consumers() -> int:
    from taskhook.consumers import registry

    for name, consumer in registry.registered().items():
        print(f"{name}\t{' '.join(consumer.bindings)}\t{consumer.summary}")
    return 0


def _tasks(args: argparse.Namespace) -> int:
    from taskhook.tasks import reading
    from taskhook.tasks.store import SchemaMissing, TaskStore
    from taskhook.tasks.views import TaskQuery

    settings = _settings(ConsumerSettings)
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


def _settings(kind: type[S]) -> S | None:
    """``kind`` read from the environment, or None after saying what is wrong with it."""
    try:
        return kind()
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

    from taskhook.core.message import published_event_schema

    text = orjson.dumps(published_event_schema(), option=orjson.OPT_INDENT_2).decode() + "\n"
    if not check:
        SCHEMA_PATH.write_text(text)
        print(f"wrote {SCHEMA_PATH}")
        return 0
    if SCHEMA_PATH.read_text() != text:
        print(f"{SCHEMA_PATH} is out of date: run `taskhook schema`", file=sys.stderr)
        return 1
    return 0


def _send_secret(args: argparse.Namespace) -> str:
    if args.secret:
        return str(args.secret)
    configured = os.environ.get(f"{ENV_PREFIX}WEBHOOK_SECRETS", "")
    return configured.split(",")[0].strip() or DEV_SECRET
