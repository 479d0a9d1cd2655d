"""``taskhook inspect``, ``replay`` and ``discard``: the queues that hold messages back."""

import argparse
import sys
from typing import Any

from taskhook import bootstrap
from taskhook.cli import history
from taskhook.cli.options import EXIT_USAGE, positive_int
from taskhook.settings import CommonSettings

DEFAULT_INSPECT_LIMIT = 100


def add_commands(commands: Any) -> None:
    queue_help = (
        "livepeer.tasks.rejected, livepeer.tasks.unrouted or a consumer's taskhook.<name>.dead "
        "(taskhook.<exchange>.<name>.dead off the default exchange)"
    )
    inspect = commands.add_parser(
        "inspect", help="list the messages a held-back queue holds, removing nothing"
    )
    inspect.add_argument("queue", help=queue_help)
    inspect.add_argument(
        "--limit",
        type=positive_int,
        default=DEFAULT_INSPECT_LIMIT,
        help=f"at most this many, from the oldest (default: {DEFAULT_INSPECT_LIMIT})",
    )
    inspect.add_argument("--json", action="store_true", help="the whole messages, one per line")
    inspect.add_argument("--id", help="only the message(s) of this event (message) id or task id")
    inspect.set_defaults(run=run_held, tool=True)
    replay = commands.add_parser(
        "replay",
        help="publish held-back messages again, removing each once confirmed; or, with "
        "--archive, a window of the archive to one consumer",
    )
    replay.add_argument("queue", nargs="?", help=queue_help)
    replay.add_argument("--limit", type=positive_int, help="at most this many, from the oldest")
    replay.add_argument(
        "--dry-run", action="store_true", help="say what would happen; move nothing"
    )
    replay.add_argument("--id", help="only the message(s) of this event (message) id or task id")
    history.add_archive_options(replay)
    replay.set_defaults(run=run_held, tool=True)
    discard = commands.add_parser(
        "discard",
        help="remove the message(s) of one event or task id from a held-back queue, once confirmed",
    )
    discard.add_argument("queue", help=queue_help)
    discard.add_argument("id", help="an event id (message id), or a task id as inspect shows it")
    discard.add_argument("--yes", action="store_true", help="do not ask (scripts)")
    discard.set_defaults(run=run_held, tool=True)


def run_held(args: argparse.Namespace) -> int:
    import uvloop

    from taskhook.tools import held, held_replay

    if getattr(args, "archive", False):
        return history.run_archive_replay(args)
    if args.queue is None or history.archive_options_given(args):
        print(
            f"taskhook {args.command}: name a held-back queue, or replay the archive with "
            "--archive --since T --to CONSUMER",
            file=sys.stderr,
        )
        return EXIT_USAGE
    settings = bootstrap.load_settings(CommonSettings)
    topology = bootstrap.topology(settings)
    queue = topology.held_queue(args.queue)
    if queue is None:
        print(
            f"taskhook {args.command}: {args.queue!r} is not a queue that holds messages back: "
            f"name {topology.rejected_queue}, {topology.unrouted_queue} or a consumer's "
            f"{topology.consumer_prefix}.<name>.dead",
            file=sys.stderr,
        )
        return EXIT_USAGE
    url = settings.amqp_url.get_secret_value()
    if args.command == "inspect":
        looking = held.inspect(
            url, queue, limit=args.limit, as_json_lines=args.json, wanted=args.id
        )
        return uvloop.run(looking)
    if args.command == "discard":
        if not args.yes and not sys.stdin.isatty():
            print("taskhook discard: no terminal to confirm on: pass --yes", file=sys.stderr)
            return EXIT_USAGE
        confirm = (lambda _: True) if args.yes else _asked
        return uvloop.run(held.discard(url, queue, args.id, confirm=confirm))
    replaying = held_replay.replay(
        url,
        topology,
        queue,
        limit=args.limit,
        dry_run=args.dry_run,
        redaction=bootstrap.redaction(settings),
        wanted=args.id,
    )
    return uvloop.run(replaying)


def _asked(question: str) -> bool:
    return input(question).strip().lower() in ("y", "yes")
