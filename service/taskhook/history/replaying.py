"""``taskhook replay --archive``: a window of the archive, to one consumer's queue.

The archive is read through aio-pika, as the other tools read the broker; every copy is
published on taskhook's own connection, confirmed one by one (``taskhook.history.replay``).
"""

import sys
import time

from aio_pika.abc import AbstractChannel
from aio_pika.exceptions import ChannelNotFoundEntity, ChannelPreconditionFailed

from taskhook.broker.topology import Topology
from taskhook.core.errors import PublishFailed
from taskhook.core.wire import iso_time
from taskhook.history.archive import ArchivedMessage, ArchiveMissing, ArchiveReader
from taskhook.history.replay import ReplayWindow, matching, replay_window
from taskhook.history.show import archive_missing
from taskhook.tools.broker import ToolFailed, connect, publishing

# A progress line on stderr at most this often, on a run long enough to need one.
PROGRESS_EVERY_S = 2.0
# The longest wait for one copy's confirm, as the ingest's default: a broker this slow is down.
CONFIRM_TIMEOUT_S = 10.0


async def replay_archive(
    url: str, topology: Topology, window: ReplayWindow, *, dry_run: bool
) -> int:
    """Replay (or with ``dry_run`` list and count) ``window``; says the count at the end."""
    connection = await connect(url)
    try:
        channel = await connection.channel()
        await _check_queue(channel, window.queue)
        reader = ArchiveReader(await connection.channel(), topology)
        try:
            if dry_run:
                count = await _list(reader, window)
            else:
                count = await _replay(url, reader, window, CONFIRM_TIMEOUT_S)
        except ArchiveMissing as e:
            raise ToolFailed(archive_missing(str(e))) from None
        except ChannelPreconditionFailed:
            raise ToolFailed(
                f"{topology.archive_queue} is not a stream: this broker cannot read it from a "
                "point in time (RabbitMQ 3.9+ with streams is needed)"
            ) from None
    finally:
        await connection.close()
    _say_count(count, window, dry_run=dry_run)
    return 0


async def _check_queue(channel: AbstractChannel, queue: str) -> None:
    try:
        await channel.get_queue(queue, ensure=True)
    except ChannelNotFoundEntity:
        raise ToolFailed(
            f"no consumer queue {queue} on this broker: check --to (`taskhook consumers` lists "
            "them), or start the consumer once to declare its queue"
        ) from None


async def _list(reader: ArchiveReader, window: ReplayWindow) -> int:
    count = 0
    async for archived in matching(reader, window):
        count += 1
        message = archived.message
        received = iso_time(archived.received_at_ms) if archived.received_at_ms else "-"
        print(f"{received}  {message.routing_key:<28}  {message.message_id or '-'}", flush=True)
    return count


async def _replay(url: str, reader: ArchiveReader, window: ReplayWindow, timeout_s: float) -> int:
    progress = _Progress()
    async with publishing(url, timeout_s=timeout_s) as connection:
        try:
            return await replay_window(reader, connection, window, progress=progress)
        except PublishFailed as e:
            raise ToolFailed(
                f"{e.detail} for {window.queue} after {progress.count} copies: run the same "
                f"command again with --run {window.run} (the consumer sees duplicates, no gap)"
            ) from None


class _Progress:
    def __init__(self) -> None:
        self.count = 0
        self._said = time.monotonic()

    def __call__(self, count: int, archived: ArchivedMessage) -> None:
        self.count = count
        now = time.monotonic()
        if now - self._said < PROGRESS_EVERY_S:
            return
        self._said = now
        at = iso_time(archived.received_at_ms) if archived.received_at_ms else "?"
        print(f"replayed {count} so far, up to one received {at}", file=sys.stderr, flush=True)


def _say_count(count: int, window: ReplayWindow, *, dry_run: bool) -> None:
    span = f"received {iso_time(window.since_ms)} to {iso_time(window.until_ms)}"
    matched = f" matching {window.pattern}" if window.pattern else ""
    if count == 0:
        print(
            f"no archived message {span}{matched}: nothing to replay; widen --since/--until or "
            "check --pattern",
            file=sys.stderr,
        )
        return
    verb = "would replay" if dry_run else "replayed"
    run = "" if dry_run else f" (run {window.run})"
    print(f"{verb} {count} messages {span}{matched} to {window.queue}{run}")
