"""``taskhook serve`` (the ingest) and ``taskhook schema`` (the contract it publishes)."""

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from taskhook import bootstrap
from taskhook.cli.options import EXIT_FAILED, listen_failure, positive_int
from taskhook.http.workers import WORKER_FLAG, run_workers
from taskhook.settings import DEV_SECRET, Settings

log = logging.getLogger("taskhook")

SCHEMA_PATH = Path(__file__).parents[1] / "schema" / "event.schema.json"
# Not packaged: it documents the repository for other teams, so it exists in a source checkout.
ASYNCAPI_PATH = Path(__file__).parents[3] / "docs" / "asyncapi.json"
HANDLER_FIELDS_PATH = Path(__file__).parents[3] / "docs" / "handler-fields.md"


def add_commands(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the webhook endpoint")
    serve.add_argument(
        "--dev", action="store_true", help=f"with no secret configured, use {DEV_SECRET!r}"
    )
    serve.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="processes sharing the port (SO_REUSEPORT); about one per core (default: 1)",
    )
    serve.add_argument(WORKER_FLAG, action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(run=run_serve)
    schema = commands.add_parser(
        "schema",
        help="print the published event's JSON Schema, or the AsyncAPI document",
        description="Print the JSON Schema of the bodies taskhook publishes, or write it to "
        "--output. With --asyncapi, the AsyncAPI 3.0 document of everything it publishes "
        "instead (exchange, routing keys, properties, headers, bodies). With --check, compare "
        "it with the file instead (the packaged schema, or docs/asyncapi.json of a source "
        "checkout, unless --output names another) and exit 1 if that is out of date.",
    )
    schema.add_argument("--output", type=Path, help="write it to this file instead of stdout")
    schema.add_argument("--check", action="store_true", help="fail if the file is out of date")
    schema.add_argument(
        "--asyncapi", action="store_true", help="the AsyncAPI document instead of the schema"
    )
    schema.add_argument(
        "--handler-fields",
        action="store_true",
        help="the Markdown reference of the event's Python fields per task type instead "
        "(docs/handler-fields.md)",
    )
    schema.set_defaults(run=run_schema)


def run_serve(args: argparse.Namespace) -> int:
    # Read once here, so a bad configuration is said once, not once per worker.
    settings = bootstrap.load_settings(Settings, dev=args.dev)
    if args.workers > 1:
        return run_workers(args.workers, ["--dev"] if args.dev else [])
    return serve(settings, reuse_port=args.worker)


def serve(settings: Settings, *, reuse_port: bool) -> int:
    import uvloop

    from taskhook.http.server import CannotListen, serve_until_stopped
    from taskhook.logs import configure_logging

    configure_logging(settings.log_level)
    if bootstrap.start_tracing():
        log.info("tracing on", extra={"exporter": "otlp"})
    if settings.secret_keys == (DEV_SECRET.encode(),):
        log.warning(
            "DEVELOPMENT SECRET IN USE: never register this instance in Livepeer Studio",
            extra={"dev_secret": DEV_SECRET},
        )
    try:
        uvloop.run(
            serve_until_stopped(
                bootstrap.ingest_app(settings),
                host=settings.host,
                port=settings.port,
                drain_delay_s=settings.drain_delay_s,
                grace_s=settings.shutdown_grace_s,
                keepalive_timeout_s=settings.keepalive_timeout_s,
                reuse_port=reuse_port,
            )
        )
    except CannotListen as e:
        line, status = listen_failure(e, host_setting="TASKHOOK_HOST", port_setting="TASKHOOK_PORT")
        print(f"taskhook serve: {line}", file=sys.stderr)
        return status
    return 0


def run_schema(args: argparse.Namespace) -> int:
    if args.handler_fields:
        from taskhook.core.handler_reference import handler_reference

        text = handler_reference()
        return write_schema(text, args.output, check=args.check, known=HANDLER_FIELDS_PATH)
    if args.asyncapi:
        return write_schema(asyncapi_text(), args.output, check=args.check, known=ASYNCAPI_PATH)
    return write_schema(schema_text(), args.output, check=args.check, known=SCHEMA_PATH)


def schema_text() -> str:
    """The published body's JSON Schema, as ``make schema`` writes it."""
    import orjson

    from taskhook.core.message import published_event_schema

    return orjson.dumps(published_event_schema(), option=orjson.OPT_INDENT_2).decode() + "\n"


def asyncapi_text() -> str:
    """The AsyncAPI document for the default exchange, as ``make schema`` writes it."""
    from importlib.metadata import version

    import orjson

    from taskhook.broker.topology import DEFAULT_EXCHANGE, Topology
    from taskhook.core.contract import asyncapi_document

    document = asyncapi_document(Topology(DEFAULT_EXCHANGE), version=version("taskhook"))
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"


def write_schema(text: str, output: Path | None, *, check: bool, known: Path) -> int:
    """``text`` to stdout, or to ``output``; with ``check``, whether that file (``known`` when
    no ``output`` is given) already holds it."""
    if check:
        path = output or known
        try:
            current = path.read_text() == text
        except OSError as e:
            print(f"taskhook schema: cannot read {path}: {e.strerror}", file=sys.stderr)
            return EXIT_FAILED
        if not current:
            print(f"{path} is out of date: run `make schema`", file=sys.stderr)
            return EXIT_FAILED
        return 0
    if output is None:
        sys.stdout.write(text)
        return 0
    try:
        output.write_text(text)
    except OSError as e:
        print(f"taskhook schema: cannot write {output}: {e.strerror}", file=sys.stderr)
        return EXIT_FAILED
    print(f"wrote {output}", file=sys.stderr)
    return 0
