"""The pages that read the history (``taskhook.history``): a task's timeline from the event
index, an event's body as published from the archive, and replay of a window of the archive to
one consumer, counted by a dry run first."""

from typing import Any

import orjson
from aiohttp import web

from taskhook.console.render import render
from taskhook.console.state import BROKER, STORE
from taskhook.console.times import utc_minute_ms
from taskhook.core.wire import iso_time
from taskhook.history.query import EventQuery, IndexedEvent
from taskhook.history.replay import ReplayWindow, new_run_id

# More than any task's life has; a task with more shows its latest this many.
TIMELINE_LIMIT = 1000


async def timeline(request: web.Request, task_id: str) -> list[dict[str, Any]]:
    """The task's events from the index, in the order of its ``status.updatedAt``."""
    found = await request.app[STORE].events.find(EventQuery(task_id=task_id, limit=TIMELINE_LIMIT))
    return [_shown(event) for event in found]


def _shown(event: IndexedEvent) -> dict[str, Any]:
    if event.reconciled:
        kind, detail = "reconciled", event.reconciled
    elif event.replayed:
        kind, detail = "replayed", f"run {event.replayed}"
    else:
        kind, detail = "live", ""
    return {
        "event": event,
        "received": iso_time(event.received_at),
        "updated": iso_time(event.updated_at),
        "kind": kind,
        "detail": detail,
    }


async def event_body(request: web.Request) -> web.StreamResponse:
    """``/events/{id}``: one event as indexed, and its body as published (read from the
    archive; it was redacted before it was published)."""
    event_id = request.match_info["event_id"]
    found = await request.app[STORE].events.find(EventQuery(event_id=event_id, limit=1))
    if not found:
        raise web.HTTPNotFound(reason="no event with this id is in the index")
    (event,) = found
    body = await request.app[BROKER].body_of(event)
    context = {"shown": _shown(event), "body": None if body is None else _readable(body)}
    return render("event.html", request, context)


def _readable(body: bytes) -> str:
    try:
        return orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")


async def replay_window_form(request: web.Request) -> web.StreamResponse:
    """``/replay``: the form; with ``count``, the dry run's count and the button to replay."""
    broker = request.app[BROKER]
    form = request.query
    context: dict[str, Any] = {
        "consumers": [consumer.name for consumer in broker.consumers],
        "form": {name: form.get(name, "") for name in ("consumer", "since", "until", "pattern")},
        "count": None,
        "refused": None,
    }
    if "count" in form:
        try:
            window = _window(request, form, run="dry-run")
        except ValueError as e:
            context["refused"] = str(e)
            return render("replay_window.html", request, context, status=400)
        context["count"] = await broker.count_window(window)
    return render("replay_window.html", request, context)


async def replay_window(request: web.Request) -> web.StreamResponse:
    """POST ``/replay``: replay the window as counted; the page says how many, and the run."""
    form = await request.post()
    fields = {name: str(form.get(name, "")) for name in ("consumer", "since", "until", "pattern")}
    try:
        window = _window(request, fields, run=new_run_id())
    except ValueError as e:
        raise web.HTTPBadRequest(reason=str(e)) from None
    count = await request.app[BROKER].replay_window(window)
    context = {"window": window, "count": count, "form": fields}
    return render("replay_window_done.html", request, context)


def _window(request: web.Request, form: Any, *, run: str) -> ReplayWindow:
    """The window the form names; ``ValueError`` saying which field is wrong."""
    broker = request.app[BROKER]
    consumer = next((c for c in broker.consumers if c.name == form.get("consumer")), None)
    if consumer is None:
        raise ValueError("consumer: choose one of the registered consumers")
    since = utc_minute_ms(form.get("since", ""), "since")
    until = utc_minute_ms(form.get("until", ""), "until")
    if since is None or until is None:
        raise ValueError("since and until: both are needed")
    if until <= since:
        raise ValueError("until: the window ends before it starts")
    pattern = (form.get("pattern") or "").strip() or None
    return ReplayWindow(since, until, consumer.queue, run, pattern)
