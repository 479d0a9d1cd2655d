"""The consumers page and the live view: the broker as it is now, and as events arrive."""

import orjson
from aiohttp import web
from aiohttp_sse import sse_response

from taskhook.console.render import render
from taskhook.console.state import BROKER
from taskhook.tools.tail import as_line

DEFAULT_PATTERN = "#"


async def consumers_page(request: web.Request) -> web.StreamResponse:
    """``/consumers``: each registered consumer's queue, retry and dead counts."""
    states = await request.app[BROKER].consumer_states()
    return render("consumers.html", request, {"consumers": states})


async def live_page(request: web.Request) -> web.StreamResponse:
    """``/live?pattern=``: the page; its script opens ``/live/events`` and can pause it."""
    pattern = request.query.get("pattern", DEFAULT_PATTERN) or DEFAULT_PATTERN
    return render("live.html", request, {"pattern": pattern})


async def live_events(request: web.Request) -> web.StreamResponse:
    """``/live/events?pattern=``: server-sent events, one per message published from now on,
    from a temporary queue that goes when the page closes or pauses the stream."""
    pattern = request.query.get("pattern", DEFAULT_PATTERN) or DEFAULT_PATTERN
    async with (
        request.app[BROKER].watching([pattern]) as messages,
        sse_response(request) as stream,
    ):
        await stream.send("", event="ready")
        async for message in messages:
            line = orjson.dumps(as_line(message), default=str).decode()
            await stream.send(line, event="message")
    return stream
