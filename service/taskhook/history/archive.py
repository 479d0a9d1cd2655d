"""Reading the archive stream from a point in time: what ``replay --archive``, ``history --body``
and the console read.

A stream consumer starts at a timestamp (``x-stream-offset``) and is then handed every message
kept after it, each with its stream offset (the ``x-stream-offset`` header). RabbitMQ starts at a
whole chunk, by its own clock: reading starts ``HEAD_MARGIN_MS`` early (clocks a few seconds
apart) and keeps the messages whose ``received-at`` header falls in the window.

A stream has no end, and messages are written in the order their publishes reached the broker,
not the order they were received: one received just before the window's end may be written after
others received later, up to the longest publish wait (25 s). So reading stops at the first
message received ``TAIL_MARGIN_MS`` after the window, or when nothing more arrives for ``IDLE_S``
(the stream's tail). Under steady traffic a window ending now ends that much later.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import ChannelNotFoundEntity

from taskhook.broker.received import received
from taskhook.broker.topology import Topology
from taskhook.core.delivered import RECEIVED_AT_HEADER, parse_iso_ms
from taskhook.core.message import ReceivedMessage
from taskhook.history.query import IndexedEvent

# Skew between the broker's clock and the ingest's.
HEAD_MARGIN_MS = 5_000
# Longer than any publish may wait for its confirm (MAX_PUBLISH_TIMEOUT_S), plus the skew.
TAIL_MARGIN_MS = 30_000
# Nothing for this long after the consumer started: the stream's tail was reached.
IDLE_S = 1.0
# Stream consumers need a prefetch; a few thousand keep the broker's reader busy.
PREFETCH = 2000
OFFSET_HEADER = "x-stream-offset"


class ArchiveMissing(Exception):
    """The archive stream does not exist: turned off, or never declared on this broker."""


@dataclass(frozen=True, slots=True)
class ArchivedMessage:
    """One message as the archive keeps it: the body as published, and where it sits."""

    offset: int
    received_at_ms: int | None
    message: ReceivedMessage


class ArchiveReader:
    """Reads ``topology``'s archive stream on an aio-pika ``channel`` its owner opened."""

    def __init__(self, channel: AbstractChannel, topology: Topology) -> None:
        self._channel = channel
        self._name = topology.archive_queue

    async def read(
        self, since_ms: int, until_ms: int, *, idle_s: float = IDLE_S
    ) -> AsyncIterator[ArchivedMessage]:
        """Every archived message received in ``[since_ms, until_ms)``, in stream order.

        Raises ``ArchiveMissing`` when there is no archive stream.
        """
        async for archived in self._from(since_ms - HEAD_MARGIN_MS, idle_s):
            received_at = archived.received_at_ms
            if received_at is not None and received_at >= until_ms + TAIL_MARGIN_MS:
                return
            if received_at is None or since_ms <= received_at < until_ms:
                yield archived

    async def first(self, *, idle_s: float = IDLE_S) -> ArchivedMessage | None:
        """The oldest message the archive still keeps, or None when it is empty."""
        async for archived in self._from(None, idle_s):
            return archived
        return None

    async def body_of(self, event: IndexedEvent, *, idle_s: float = IDLE_S) -> bytes | None:
        """The body ``event`` was published with, or None when the archive no longer has it."""
        window = self.read(event.received_at, event.received_at + 1, idle_s=idle_s)
        async for archived in window:
            if archived.message.message_id == event.id:
                return archived.message.body
        return None

    async def _from(self, start_ms: int | None, idle_s: float) -> AsyncIterator[ArchivedMessage]:
        queue = await self._stream()
        arrived: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        start: str | datetime = (
            "first" if start_ms is None else datetime.fromtimestamp(start_ms / 1000, UTC)
        )
        await self._channel.set_qos(prefetch_count=PREFETCH)
        tag = await queue.consume(arrived.put, arguments={OFFSET_HEADER: start})
        try:
            while True:
                try:
                    message = await asyncio.wait_for(arrived.get(), idle_s)
                except TimeoutError:
                    return
                await message.ack()
                yield _archived(message)
        finally:
            # The channel may be gone already (the connection closed under a reader left open).
            with contextlib.suppress(Exception):
                await queue.cancel(tag)

    async def _stream(self) -> AbstractQueue:
        try:
            return await self._channel.get_queue(self._name, ensure=True)
        except ChannelNotFoundEntity:
            raise ArchiveMissing(self._name) from None


def _archived(message: AbstractIncomingMessage) -> ArchivedMessage:
    offset = message.headers.get(OFFSET_HEADER)
    return ArchivedMessage(
        offset=offset if isinstance(offset, int) else -1,
        received_at_ms=parse_iso_ms(message.headers.get(RECEIVED_AT_HEADER)),
        message=received(message),
    )
