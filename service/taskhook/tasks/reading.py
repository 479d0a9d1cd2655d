"""``taskhook tasks|assets list|show``: what the tasks consumer recorded, printed for people or
scripts."""

import sys

import orjson

from taskhook.tasks.store import TaskStore
from taskhook.tasks.views import (
    ASSET_COLUMNS,
    AssetQuery,
    TaskQuery,
    asset_view,
    table,
    task_view,
)


async def list_tasks(store: TaskStore, query: TaskQuery, *, as_json: bool) -> int:
    """Print the tasks ``query`` selects: a table, or one JSON object per line."""
    try:
        views = [task_view(row) for row in await store.find(query)]
    finally:
        await store.close()
    if as_json:
        for view in views:
            print(orjson.dumps(view).decode())
    else:
        print(table(views))
    return 0


async def show_task(store: TaskStore, task_id: str) -> int:
    """Print one task as indented JSON; exit status 1 if it was never recorded."""
    try:
        row = await store.get(task_id)
    finally:
        await store.close()
    if row is None:
        print(f"taskhook: no task {task_id!r} has been recorded", file=sys.stderr)
        return 1
    print(orjson.dumps(task_view(row), option=orjson.OPT_INDENT_2).decode())
    return 0


async def list_assets(store: TaskStore, query: AssetQuery, *, as_json: bool) -> int:
    """Print the assets ``query`` selects: a table, or one JSON object per line."""
    try:
        views = [asset_view(row) for row in await store.find_assets(query)]
    finally:
        await store.close()
    if as_json:
        for view in views:
            print(orjson.dumps(view).decode())
    else:
        print(table(views, ASSET_COLUMNS))
    return 0


async def show_asset(store: TaskStore, asset_id: str) -> int:
    """Print one asset as indented JSON; exit status 1 if it was never recorded."""
    try:
        row = await store.get_asset(asset_id)
    finally:
        await store.close()
    if row is None:
        print(f"taskhook: no asset {asset_id!r} has been recorded", file=sys.stderr)
        return 1
    print(orjson.dumps(asset_view(row), option=orjson.OPT_INDENT_2).decode())
    return 0
