"""The command line's grammar: every ``taskhook`` command and its options, nothing run here."""

import argparse
from pathlib import Path
from typing import Any, get_args

from taskhook.core.samples import SAMPLE_TYPES, TASK_EVENTS
from taskhook.core.task import TaskPhase, TaskType
from taskhook.settings import DEV_SECRET
from taskhook.workers import WORKER_FLAG

DEFAULT_URL = "http://127.0.0.1:8080/webhooks/livepeer"
DEFAULT_INSPECT_LIMIT = 100


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="taskhook", description="Livepeer task webhooks in, RabbitMQ messages out."
    )
    commands = root.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the webhook endpoint")
    serve.add_argument(
        "--dev", action="store_true", help=f"with no secret configured, use {DEV_SECRET!r}"
    )
    serve.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="processes sharing the port (SO_REUSEPORT); about one per core (default: 1)",
    )
    serve.add_argument(WORKER_FLAG, action="store_true", help=argparse.SUPPRESS)
    schema = commands.add_parser("schema", help="write the published event's JSON Schema")
    schema.add_argument("--check", action="store_true", help="fail if the file is out of date")
    consume = commands.add_parser("consume", help="run one consumer until SIGTERM")
    consume.add_argument("consumer", help="a registered name (see `consumers`) or module:attribute")
    commands.add_parser("consumers", help="list the registered consumers and their bindings")
    _add_tasks(commands)
    _add_send(commands)
    tail = commands.add_parser("tail", help="bind a temporary queue and print what is published")
    tail.add_argument("patterns", nargs="*", default=["#"], help="binding keys (default: #)")
    tail.add_argument("--exchange", help="default: TASKHOOK_EXCHANGE, else livepeer.tasks")
    _add_held(commands)
    topology = commands.add_parser(
        "topology", help="declare the exchanges, queues and bindings (idempotent) and print them"
    )
    topology.add_argument(
        "consumers",
        nargs="*",
        help="consumers, by name or module:attribute, whose queues to include (default: all)",
    )
    return root


def _add_tasks(commands: Any) -> None:
    tasks = commands.add_parser("tasks", help="read what the tasks consumer recorded")
    actions = tasks.add_subparsers(dest="tasks_command", required=True)
    listing = actions.add_parser("list", help="the most recently updated tasks first")
    listing.add_argument("--phase", action="append", default=[], choices=get_args(TaskPhase))
    listing.add_argument("--type", action="append", default=[], choices=get_args(TaskType))
    listing.add_argument("--limit", type=int, default=50, help="1 to 500 (default: 50)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    show = actions.add_parser("show", help="one task's state and output, as JSON")
    show.add_argument("task_id")


def _add_send(commands: Any) -> None:
    send = commands.add_parser(
        "send",
        help="sign deliveries as Livepeer does and POST them",
        description="Without FILE, a made-up task of --type: one --event, or with --count N "
        "its whole life in N deliveries (spawned, running updates, then --event if final, "
        "else completed). A FILE is sent as it is, --count times, with a fresh timestamp.",
    )
    send.add_argument("file", nargs="?", type=Path, help="a delivery to send, as JSON")
    send.add_argument("--event", choices=TASK_EVENTS, default="task.completed")
    send.add_argument("--type", choices=SAMPLE_TYPES, default="upload", help="the task's type")
    send.add_argument("--count", type=_positive_int, default=1, help="deliveries (default: 1)")
    send.add_argument(
        "--rate", type=_positive_float, help="deliveries a second (default: one after another)"
    )
    send.add_argument("--url", default=DEFAULT_URL, help=f"default: {DEFAULT_URL}")
    send.add_argument(
        "--secret", help="default: the first TASKHOOK_WEBHOOK_SECRETS, or the dev one"
    )


def _add_held(commands: Any) -> None:
    queue_help = "livepeer.tasks.rejected, livepeer.tasks.unrouted or taskhook.<consumer>.dead"
    inspect = commands.add_parser(
        "inspect", help="list the messages a held-back queue holds, removing nothing"
    )
    inspect.add_argument("queue", help=queue_help)
    inspect.add_argument(
        "--limit",
        type=_positive_int,
        default=DEFAULT_INSPECT_LIMIT,
        help=f"at most this many, from the oldest (default: {DEFAULT_INSPECT_LIMIT})",
    )
    inspect.add_argument("--json", action="store_true", help="the whole messages, one per line")
    replay = commands.add_parser(
        "replay", help="publish held-back messages again, removing each once confirmed"
    )
    replay.add_argument("queue", help=queue_help)
    replay.add_argument("--limit", type=_positive_int, help="at most this many, from the oldest")
    replay.add_argument(
        "--dry-run", action="store_true", help="say what would happen; move nothing"
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value
