"""The composition root: the only place that reads the environment and builds real adapters."""

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson
import uvloop
from pydantic import ValidationError

from service import devtools
from service.broker.publisher import AmqpPublisher
from service.core.message import published_event_schema
from service.http.app import create_app
from service.logs import configure_logging
from service.metrics import Metrics
from service.server import serve_until_stopped
from service.settings import DEFAULT_AMQP_URL, ENV_PREFIX, Settings

log = logging.getLogger("service")

# Known to everyone, so only ever used by `taskhook serve --dev` (what `make run` starts).
DEV_SECRET = "taskhook-dev-secret"  # noqa: S105
SCHEMA_PATH = Path(__file__).parent / "schema" / "event.schema.json"
EXIT_BAD_CONFIG = 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command: str = args.command
    if command == "serve":
        return _serve(dev=args.dev)
    if command == "schema":
        return _schema(check=args.check)
    if command == "send":
        return uvloop.run(
            devtools.send_sample(args.file.read_bytes(), url=args.url, secret=_send_secret(args))
        )
    return uvloop.run(devtools.tail(_amqp_url(), args.exchange, args.patterns))


def _serve(*, dev: bool) -> int:
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
        )
    )
    return 0


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
    schema = commands.add_parser("schema", help="write the published event's JSON Schema")
    schema.add_argument("--check", action="store_true", help="fail if the file is out of date")
    send = commands.add_parser("send", help="sign a sample delivery as Livepeer would and POST it")
    send.add_argument("file", type=Path)
    send.add_argument("--url", default="http://127.0.0.1:8080/webhooks/livepeer")
    send.add_argument(
        "--secret", help="default: the first TASKHOOK_WEBHOOK_SECRETS, or the dev one"
    )
    tail = commands.add_parser("tail", help="bind a temporary queue and print what is published")
    tail.add_argument("patterns", nargs="*", default=["#"], help="binding keys (default: #)")
    tail.add_argument("--exchange", default="livepeer.tasks")
    return parser
