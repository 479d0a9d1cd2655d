"""``taskhook history``: the event index, printed as a timeline or as JSON lines.

``--body`` adds each event's body as published, read from the archive stream.
"""

import sys
from contextlib import AsyncExitStack

import orjson

from taskhook.broker.topology import Topology
from taskhook.history.archive import ArchiveMissing, ArchiveReader
from taskhook.history.query import EventQuery, IndexedEvent
from taskhook.history.timeline import timeline, window_note
from taskhook.tasks.store import TaskStore
from taskhook.tools.broker import ToolFailed, connect


async def show_history(
    store: TaskStore,
    query: EventQuery,
    *,
    kept_since_ms: int,
    as_json: bool,
    body_from: tuple[str, Topology] | None,
) -> int:
    """Print the events ``query`` finds; ``body_from`` (broker URL, topology) adds bodies.

    ``kept_since_ms`` is the oldest the archive's retention keeps: a window starting before it
    gets a note on stderr. No event found is said on stderr; the status is 0 either way.
    """
    try:
        found = await store.events.find(query)
    finally:
        await store.close()
    if note := window_note(query.since_ms, kept_since_ms):
        print(note, file=sys.stderr)
    if not found:
        print("no events found: widen --since/--until, or check the ids given", file=sys.stderr)
        return 0
    if not as_json:
        print("\n".join(timeline(found)))
        return 0
    async with AsyncExitStack() as stack:
        reader = None
        if body_from is not None:
            url, topology = body_from
            connection = await connect(url)
            stack.push_async_callback(connection.close)
            reader = ArchiveReader(await connection.channel(), topology)
        for event in found:
            line = event.as_json()
            if reader is not None:
                line["body"] = await _body(reader, event)
            print(orjson.dumps(line).decode(), flush=True)
    return 0


async def _body(reader: ArchiveReader, event: IndexedEvent) -> object:
    """The published body as JSON (a string if it is not JSON); None once the archive dropped it."""
    try:
        body = await reader.body_of(event)
    except ArchiveMissing as e:
        raise ToolFailed(archive_missing(str(e))) from None
    if body is None:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")


def archive_missing(stream: str) -> str:
    return (
        f"there is no archive stream {stream} on this broker: the archive was turned off or never "
        "declared (start `taskhook serve` with TASKHOOK_ARCHIVE_ENABLED=true, on RabbitMQ 3.9+)"
    )
