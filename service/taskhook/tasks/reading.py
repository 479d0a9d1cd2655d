"""``taskhook tasks|assets list|show``: what the tasks consumer recorded, printed for people or
scripts."""

import sys
from collections.abc import Awaitable
from typing import Any, TypeVar

import orjson

from taskhook.tasks.store import TaskStore
from taskhook.tasks.views import (
    ASSET_COLUMNS,
    TABLE_COLUMNS,
    AssetQuery,
    TaskQuery,
    asset_view,
    table,
    task_view,
)

T = TypeVar("T")
Columns = tuple[tuple[str, str, int], ...]


async def list_tasks(store: TaskStore, query: TaskQuery, *, as_json: bool) -> int:
    """Print the tasks ``query`` selects: a table, or one JSON object per line."""
    rows = await _then_close(store, store.find(query))
    return _listed([task_view(row) for row in rows], TABLE_COLUMNS, as_json=as_json)


async def show_task(store: TaskStore, task_id: str) -> int:
    """Print one task as indented JSON; exit status 1 if it was never recorded."""
    row = await _then_close(store, store.get(task_id))
    return _shown(None if row is None else task_view(row), f"task {task_id!r}")


async def list_assets(store: TaskStore, query: AssetQuery, *, as_json: bool) -> int:
    """Print the assets ``query`` selects: a table, or one JSON object per line."""
    rows = await _then_close(store, store.find_assets(query))
    return _listed([asset_view(row) for row in rows], ASSET_COLUMNS, as_json=as_json)


async def show_asset(store: TaskStore, asset_id: str) -> int:
    """Print one asset as indented JSON; exit status 1 if it was never recorded."""
    row = await _then_close(store, store.get_asset(asset_id))
    return _shown(None if row is None else asset_view(row), f"asset {asset_id!r}")


async def _then_close(store: TaskStore, read: Awaitable[T]) -> T:
    """What ``read`` returns; the store is closed after it, whatever happened."""
    try:
        return await read
    finally:
        await store.close()


def _listed(views: list[dict[str, Any]], columns: Columns, *, as_json: bool) -> int:
    if as_json:
        for view in views:
            print(orjson.dumps(view).decode())
    else:
        print(table(views, columns))
    return 0


def _shown(view: dict[str, Any] | None, what: str) -> int:
    if view is None:
        print(f"taskhook: no {what} has been recorded", file=sys.stderr)
        return 1
    print(orjson.dumps(view, option=orjson.OPT_INDENT_2).decode())
    return 0
