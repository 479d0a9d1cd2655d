"""The held-back pages: what each queue holds and why, and replay of one message or all.

Replays follow ``taskhook replay``'s rules (they are its code), each behind a confirmation page
that shows the dry run first. A rejected delivery's raw bytes may hold credentials: they are
shown redacted, and raw only for the one message an operator asks for by name.
"""

from typing import Any

import orjson
from aiohttp import web

from taskhook.console.render import render
from taskhook.console.state import BROKER
from taskhook.core.held import HeldQueue, as_json, summarize
from taskhook.core.message import ReceivedMessage
from taskhook.core.redaction import redact_delivery

# At most this many shown of a queue; a look takes them all and gives them back
# (tools/borrowed.py).
SHOWN = 100
ALL = "all"


async def held_overview(request: web.Request) -> web.StreamResponse:
    """``/held``: every held-back queue and its count; nothing is taken from any."""
    counts = await request.app[BROKER].held_counts()
    return render("held.html", request, {"counts": counts})


async def held_queue_page(request: web.Request) -> web.StreamResponse:
    """``/held/{queue}``: its messages, oldest first, with cause and reason."""
    queue = _queue(request)
    raw = request.query.get("raw")
    seen = await request.app[BROKER].look(queue, limit=SHOWN)
    messages = [_shown(message, queue, raw_id=raw) for message in seen.messages]
    context = {"queue": queue, "held_back": seen.held_back, "messages": messages}
    return render("held_queue.html", request, context)


async def confirm_replay(request: web.Request) -> web.StreamResponse:
    """``/held/{queue}/replay?message=<id>|all``: what a replay would do, and the button."""
    queue = _queue(request)
    message = request.query.get("message", ALL)
    plan = await request.app[BROKER].replay(queue, only=_only(message), dry_run=True)
    context = {"queue": queue, "message": message, "plan": plan}
    return render("replay_confirm.html", request, context)


async def replay(request: web.Request) -> web.StreamResponse:
    """POST ``/held/{queue}/replay``: replay as confirmed; the page says what happened."""
    queue = _queue(request)
    message = (await request.post()).get("message", ALL)
    if not isinstance(message, str):
        raise web.HTTPBadRequest(reason="message must be a message id or 'all'")
    done = await request.app[BROKER].replay(queue, only=_only(message), dry_run=False)
    context = {"queue": queue, "message": message, "done": done}
    return render("replay_done.html", request, context)


def _queue(request: web.Request) -> HeldQueue:
    name = request.match_info["queue"]
    queue = request.app[BROKER].held_queue(name)
    if queue is None:
        raise web.HTTPNotFound(reason=f"{name} is not a queue that holds messages back")
    return queue


def _only(message: str) -> str | None:
    return None if message == ALL else message


def _shown(message: ReceivedMessage, queue: HeldQueue, *, raw_id: str | None) -> dict[str, Any]:
    """What the page shows of one message: a rejected body redacted unless asked for raw."""
    whole = as_json(message)
    raw = queue.kind == "rejected" and raw_id is not None and raw_id == message.message_id
    if queue.kind == "rejected" and not raw:
        if "body" in whole:
            whole["body"] = redact_delivery(whole["body"])
        else:  # not JSON: nothing tells where a credential would be
            whole["body_text"] = f"({len(message.body)} bytes that are not JSON: ask for raw)"
    return {
        "summary": summarize(message, queue),
        "id": message.message_id,
        "looks": message.looks,
        "raw": raw,
        "json": orjson.dumps(whole, option=orjson.OPT_INDENT_2).decode(),
    }
