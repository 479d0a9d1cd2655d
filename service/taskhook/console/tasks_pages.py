"""The tasks pages: the list with its filters and search, and one task's state and outputs."""

from typing import Any, get_args

from aiohttp import web
from multidict import MultiMapping
from pydantic import ValidationError

from taskhook.console.history_pages import timeline
from taskhook.console.render import render
from taskhook.console.state import STORE
from taskhook.console.times import utc_minute_ms
from taskhook.core.delivery import describe_problems, summarize_problems
from taskhook.core.task import TaskPhase, TaskType
from taskhook.tasks.views import TaskQuery, task_view

PAGE_SIZE = 50
PHASES = get_args(TaskPhase)
TYPES = get_args(TaskType)
# The task fields shown as "state", in this order; the rest of the row is shown as outputs.
STATE_FIELDS = ("type", "phase", "progress", "errorMessage", "retries", "projectId")
TIME_FIELDS = ("createdAtIso", "scheduledAtIso", "updatedAtIso", "recordedAtIso")


async def tasks_list(request: web.Request) -> web.StreamResponse:
    """``/tasks?phase=&type=&since=&q=&offset=``: the most recently updated first."""
    form = request.query
    context: dict[str, Any] = {
        "phases": PHASES,
        "types": TYPES,
        "chosen": {"phase": form.getall("phase", []), "type": form.getall("type", [])},
        "since": form.get("since", ""),
        "search": form.get("q", ""),
        "tasks": [],
        "newer": None,
        "older": None,
    }
    try:
        query = _query(form)
    except ValueError as e:
        context["refused"] = str(e)
        return render("tasks.html", request, context, status=400)
    rows = await request.app[STORE].find(query)
    context |= {
        "tasks": [task_view(row) for row in rows],
        "newer": _page(request, query.offset - PAGE_SIZE) if query.offset else None,
        "older": _page(request, query.offset + PAGE_SIZE) if len(rows) == PAGE_SIZE else None,
    }
    return render("tasks.html", request, context)


async def task_page(request: web.Request) -> web.StreamResponse:
    """``/tasks/{id}``: the task's current state and what it produced."""
    task_id = request.match_info["task_id"]
    row = await request.app[STORE].get(task_id)
    if row is None:
        missing = {"task_id": task_id}
        return render("task_missing.html", request, missing, status=404)
    view = task_view(row)
    context: dict[str, Any] = {
        "task": view,
        "state": [(name, view.get(name)) for name in STATE_FIELDS],
        "times": [(name.removesuffix("Iso"), view.get(name)) for name in TIME_FIELDS],
        "assets": {"input": view.get("inputAssetId"), "output": view.get("outputAssetId")},
        "outputs": _flat(view.get("output") or {}),
        "timeline": await timeline(request, task_id),
    }
    return render("task.html", request, context)


def _page(request: web.Request, offset: int) -> str:
    return str(request.rel_url.update_query(offset=max(offset, 0)))


def _query(form: MultiMapping[str]) -> TaskQuery:
    """The filters of the list's form; ``ValueError`` saying which one is wrong."""
    try:
        return TaskQuery.model_validate(
            {
                "phase": form.getall("phase", []),
                "type": form.getall("type", []),
                "updated_since": utc_minute_ms(form.get("since", ""), "since"),
                "search": form.get("q", "").strip() or None,
                "offset": form.get("offset", 0),
                "limit": PAGE_SIZE,
            }
        )
    except ValidationError as e:
        raise ValueError(summarize_problems(describe_problems(e))) from None


def _flat(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """An output as (dotted name, value) rows: a list of tracks or files reads as rows too."""
    if isinstance(value, dict):
        return [row for key, item in value.items() for row in _flat(item, f"{prefix}{key}.")]
    if isinstance(value, list) and value:
        return [row for i, item in enumerate(value) for row in _flat(item, f"{prefix}{i}.")]
    return [(prefix.rstrip("."), value)]
