"""``taskhook history`` and ``taskhook replay --archive``: the event index and the archive."""

import argparse
import sys
from typing import TYPE_CHECKING, Any, get_args

from taskhook import bootstrap
from taskhook.cli.options import EXIT_FAILED, EXIT_USAGE, positive_int
from taskhook.core.events import TASK_EVENTS
from taskhook.core.task import TaskType
from taskhook.settings import ConsumerSettings

if TYPE_CHECKING:
    from taskhook.history.query import EventQuery
    from taskhook.history.replay import ReplayWindow

ARCHIVE_OFF = (
    "the archive is turned off (TASKHOOK_ARCHIVE_ENABLED=false): there is nothing to {what}; "
    "turn it on and restart `taskhook serve` to keep events from now on"
)


def add_commands(commands: Any) -> None:
    history = commands.add_parser(
        "history",
        help="the events received, oldest first: of a task, an event id, a window",
        description="Read the event index the tasks consumer keeps: one line per event, oldest "
        "first (a task's in the order of its status.updatedAt). --since/--until select on when "
        "taskhook received the event.",
    )
    history.add_argument("--task", help="only this task's events (its Livepeer task id)")
    history.add_argument("--event-id", help="only the event with this id (the message_id)")
    history.add_argument(
        "--event", action="append", default=[], choices=TASK_EVENTS, help="repeat for several"
    )
    history.add_argument(
        "--type", action="append", default=[], choices=get_args(TaskType), help="task type"
    )
    history.add_argument("--since", help="received at or after: 2h, 30m, 7d ago, or ISO 8601")
    history.add_argument("--until", help="received before: as --since (default: now)")
    history.add_argument("--limit", type=positive_int, default=100, help="the latest N (100)")
    history.add_argument("--json", action="store_true", help="one JSON object per line")
    history.add_argument(
        "--body", action="store_true", help="add the body as published, from the archive (JSON)"
    )
    history.set_defaults(run=run_history, tool=True)


def add_archive_options(replay: argparse.ArgumentParser) -> None:
    """``replay``'s options for a window of the archive, beside its held-back queue mode."""
    archive = replay.add_argument_group("a window of the archive, to one consumer")
    archive.add_argument("--archive", action="store_true", help="replay from the archive stream")
    archive.add_argument("--since", help="received at or after: 2h, 30m, 7d ago, or ISO 8601")
    archive.add_argument("--until", help="received before (default: now)")
    archive.add_argument("--pattern", help="only routing keys this topic pattern matches")
    archive.add_argument("--to", metavar="CONSUMER", help="the consumer whose queue gets them")
    archive.add_argument(
        "--run",
        dest="replay_run",
        metavar="ID",
        help="the run id to carry (default: a new one; give a killed run's to resume it)",
    )


def run_history(args: argparse.Namespace) -> int:
    import uvloop

    from taskhook.clock import now_ms
    from taskhook.history.show import show_history
    from taskhook.tasks.store import SchemaMissing, StoreUnavailable

    settings = bootstrap.load_settings(ConsumerSettings)
    now = now_ms()
    try:
        query = _query(args, now)
        if args.body and not settings.archive_enabled:
            raise ValueError(ARCHIVE_OFF.format(what="read --body from"))
    except ValueError as e:
        print(f"taskhook history: {e}", file=sys.stderr)
        return EXIT_USAGE
    body_from = (settings.amqp_url.get_secret_value(), bootstrap.topology(settings))
    showing = show_history(
        bootstrap.task_store(settings),
        query,
        kept_since_ms=now - settings.archive_max_age_s * 1000,
        as_json=args.json or args.body,
        body_from=body_from if args.body else None,
    )
    try:
        return uvloop.run(showing)
    except (SchemaMissing, StoreUnavailable) as e:
        print(f"taskhook history: {e}", file=sys.stderr)
        return EXIT_FAILED


def _query(args: argparse.Namespace, now: int) -> "EventQuery":
    """What ``history``'s options ask for, or ``ValueError`` saying what is wrong."""
    from taskhook.history.query import EventQuery

    return EventQuery(
        task_id=args.task,
        event_id=args.event_id,
        events=tuple(args.event),
        task_types=tuple(args.type),
        since_ms=_moment(args.since, "--since", now),
        until_ms=_moment(args.until, "--until", now),
        limit=args.limit,
    )


ARCHIVE_OPTIONS = ("since", "until", "pattern", "to", "replay_run")


def archive_options_given(args: argparse.Namespace) -> bool:
    """Whether any option of ``--archive``'s was given: without it, a mistake to say so."""
    return any(getattr(args, name, None) is not None for name in ARCHIVE_OPTIONS)


def run_archive_replay(args: argparse.Namespace) -> int:
    """``taskhook replay --archive --since T [--until T] [--pattern P] --to C [--dry-run]``."""
    import uvloop

    from taskhook.history.replaying import replay_archive

    settings = bootstrap.load_settings(ConsumerSettings)
    try:
        window = _window(args, settings)
    except ValueError as e:
        print(f"taskhook replay: {e}", file=sys.stderr)
        return EXIT_USAGE
    replaying = replay_archive(
        settings.amqp_url.get_secret_value(),
        bootstrap.topology(settings),
        window,
        dry_run=args.dry_run,
    )
    return uvloop.run(replaying)


def _window(args: argparse.Namespace, settings: ConsumerSettings) -> "ReplayWindow":
    """The window the options name, or ``ValueError`` saying what is wrong with them."""
    from taskhook.broker.topology import ConsumerTopology
    from taskhook.clock import now_ms
    from taskhook.core.topic import check_pattern
    from taskhook.core.wire import iso_time
    from taskhook.history.replay import ReplayWindow, new_run_id

    if args.queue is not None or args.limit is not None:
        raise ValueError("--archive replays a window: name no queue and no --limit")
    if not settings.archive_enabled:
        raise ValueError(ARCHIVE_OFF.format(what="replay from"))
    if args.since is None or args.to is None:
        raise ValueError("--archive needs --since (the window's start) and --to CONSUMER")
    now = now_ms()
    since = _moment(args.since, "--since", now)
    until = _moment(args.until, "--until", now) or now
    assert since is not None
    if until <= since:
        raise ValueError("the window ends before it starts: --until must be after --since")
    kept = now - settings.archive_max_age_s * 1000
    if since < kept:
        raise ValueError(
            f"--since {args.since} is before what the archive keeps ({iso_time(kept)} on, "
            f"TASKHOOK_ARCHIVE_MAX_AGE_S={settings.archive_max_age_s}): give a later --since"
        )
    if args.pattern is not None:
        check_pattern(args.pattern)
    topology = bootstrap.topology(settings)
    queue = ConsumerTopology(topology, args.to, (), ()).queue
    run = args.replay_run or new_run_id()
    return ReplayWindow(since, until, queue, run, args.pattern, source=topology.archive_queue)


def _moment(text: str | None, option: str, now: int) -> int | None:
    from taskhook.core.moments import parse_moment

    if text is None:
        return None
    try:
        return parse_moment(text, now_ms=now)
    except ValueError as e:
        raise ValueError(f"{option}: {e}") from None
