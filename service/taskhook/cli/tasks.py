"""``taskhook tasks list|show`` and ``taskhook assets list|show``: read what the ``tasks``
consumer recorded."""

import argparse
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, get_args

from pydantic import ValidationError

from taskhook import bootstrap
from taskhook.cli.options import EXIT_FAILED, EXIT_USAGE
from taskhook.core.asset import AssetPhase
from taskhook.core.task import TaskPhase, TaskType
from taskhook.settings import ConsumerSettings

if TYPE_CHECKING:  # the store (SQLAlchemy) is imported only when a command reads it
    from taskhook.tasks.store import TaskStore


def add_commands(commands: Any) -> None:
    tasks = commands.add_parser("tasks", help="read what the tasks consumer recorded")
    actions = tasks.add_subparsers(dest="tasks_command", required=True)
    listing = actions.add_parser("list", help="the most recently updated tasks first")
    listing.add_argument(
        "--phase",
        action="append",
        default=[],
        choices=get_args(TaskPhase),
        help="only tasks in this phase (repeat for several)",
    )
    listing.add_argument(
        "--type",
        action="append",
        default=[],
        choices=get_args(TaskType),
        help="only tasks of this type (repeat for several)",
    )
    listing.add_argument("--limit", type=int, default=50, help="1 to 500 (default: 50)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=list_tasks)
    show = actions.add_parser("show", help="one task's state and output, as JSON")
    show.add_argument("task_id", help="the Livepeer task id")
    show.set_defaults(run=show_task)
    _add_asset_commands(commands)


def _add_asset_commands(commands: Any) -> None:
    assets = commands.add_parser("assets", help="read the assets the tasks consumer recorded")
    actions = assets.add_subparsers(dest="assets_command", required=True)
    listing = actions.add_parser("list", help="the most recently updated assets first")
    listing.add_argument(
        "--phase",
        action="append",
        default=[],
        choices=get_args(AssetPhase),
        help="only assets in this phase (repeat for several)",
    )
    listing.add_argument("--playback-id", help="only the asset with this playback id")
    listing.add_argument("--limit", type=int, default=50, help="1 to 500 (default: 50)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=list_assets)
    show = actions.add_parser("show", help="one asset's state, playback id and media, as JSON")
    show.add_argument("asset_id", help="the Livepeer asset id")
    show.set_defaults(run=show_asset)


def list_tasks(args: argparse.Namespace) -> int:
    from taskhook.tasks import reading
    from taskhook.tasks.views import TaskQuery

    try:
        query = TaskQuery(phase=args.phase, type=args.type, limit=args.limit)
    except ValidationError:
        print("taskhook: --limit must be 1 to 500", file=sys.stderr)
        return EXIT_USAGE
    return _read(lambda store: reading.list_tasks(store, query, as_json=args.json))


def show_task(args: argparse.Namespace) -> int:
    from taskhook.tasks import reading

    return _read(lambda store: reading.show_task(store, args.task_id))


def list_assets(args: argparse.Namespace) -> int:
    from taskhook.tasks import reading
    from taskhook.tasks.views import AssetQuery

    try:
        query = AssetQuery(phase=args.phase, playback_id=args.playback_id, limit=args.limit)
    except ValidationError:
        print("taskhook: --limit must be 1 to 500, --playback-id not empty", file=sys.stderr)
        return EXIT_USAGE
    return _read(lambda store: reading.list_assets(store, query, as_json=args.json))


def show_asset(args: argparse.Namespace) -> int:
    from taskhook.tasks import reading

    return _read(lambda store: reading.show_asset(store, args.asset_id))


def _read(reader: "Callable[[TaskStore], Coroutine[Any, Any, int]]") -> int:
    """Run ``reader`` on the tasks store the settings name; a store without its schema, or
    out of reach, ends in one line (exit 1)."""
    import uvloop

    from taskhook.tasks.store import SchemaMissing, StoreUnavailable

    store = bootstrap.task_store(bootstrap.load_settings(ConsumerSettings))
    try:
        return uvloop.run(reader(store))
    except (SchemaMissing, StoreUnavailable) as e:
        print(f"taskhook: {e}", file=sys.stderr)
        return EXIT_FAILED
