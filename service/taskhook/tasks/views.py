"""How stored tasks are asked for and shown, the same over HTTP and on the command line."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from taskhook.core.asset import AssetPhase
from taskhook.core.task import TaskPhase, TaskType
from taskhook.core.wire import iso_time

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# (view key, heading, width): a task id is a 36-character UUID.
TABLE_COLUMNS = (
    ("id", "ID", 36),
    ("type", "TYPE", 14),
    ("phase", "PHASE", 9),
    ("progress", "PROGRESS", 8),
    ("updatedAtIso", "UPDATED", 24),
)
ASSET_COLUMNS = (
    ("id", "ID", 36),
    ("phase", "PHASE", 10),
    ("playbackId", "PLAYBACK ID", 16),
    ("updatedAtIso", "UPDATED", 24),
    ("name", "NAME", 0),
)
# Internal to ordering, not something a reader needs.
HIDDEN = frozenset({"phase_rank"})


class TaskQuery(BaseModel):
    """Which tasks to list: any of ``phase`` and any of ``type``, updated at or after
    ``updated_since`` (Unix ms), and with ``search`` as their task id, input or output asset id,
    or the id of an event about them; newest first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phase: tuple[TaskPhase, ...] = ()
    type: tuple[TaskType, ...] = ()
    updated_since: int | None = Field(default=None, ge=0)
    search: str | None = Field(default=None, min_length=1, max_length=128)
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0)


class AssetQuery(BaseModel):
    """Which assets to list: any of ``phase``, or the one with ``playback_id``; newest first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phase: tuple[AssetPhase, ...] = ()
    playback_id: str | None = Field(default=None, min_length=1, max_length=128)
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0)


def task_view(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as JSON: camelCase keys like Livepeer's, times in ms and as ISO 8601."""
    view: dict[str, Any] = {}
    for name, value in row.items():
        if name in HIDDEN:
            continue
        view[_camel(name)] = value
        if name.endswith("_at") and isinstance(value, int):
            view[_camel(name) + "Iso"] = iso_time(value)
    return view


asset_view = task_view
"""A stored asset row as JSON, shown as a task is."""


def table(
    views: list[dict[str, Any]], columns: tuple[tuple[str, str, int], ...] = TABLE_COLUMNS
) -> str:
    """Views as aligned text columns, one task (or asset, with ``ASSET_COLUMNS``) per line."""
    lines = [" ".join(heading.ljust(width) for _, heading, width in columns)]
    for view in views:
        progress = view.get("progress")
        cells = view | {"progress": "" if progress is None else f"{progress:.0%}"}
        lines.append(" ".join(_cell(cells.get(key)).ljust(width) for key, _, width in columns))
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)
