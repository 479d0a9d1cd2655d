"""Replaying a window of the archive to one consumer: ``taskhook replay --archive``.

Each matching message is copied (body, ``message_id``, properties and headers as archived, plus
``x-taskhook-replayed: <stream>`` and ``x-taskhook-replay-run: <run>``) and published through
the default exchange to the consumer's queue alone, never to the events exchange, confirmed one
by one on taskhook's own connection. Killed half-way, the next run starts again at the window's
start: the consumer sees duplicates, never a gap. A run given the same ``run`` id again is, to
the consumer toolkit, the same run: what the first attempt delivered is not applied twice
(``taskhook.core.delivered``).
"""

import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from taskhook.broker.amqp import AmqpConnection
from taskhook.broker.confirmed import confirm_or_fail
from taskhook.core.delivered import REPLAY_RUN_HEADER
from taskhook.core.held import REPLAYED_HEADER
from taskhook.core.message import OutgoingMessage, carried_headers, copy_message
from taskhook.core.retry import ROUTING_KEY
from taskhook.core.topic import topic_matches
from taskhook.history.archive import OFFSET_HEADER, ArchivedMessage, ArchiveReader

Progress = Callable[[int, ArchivedMessage], None]


def new_run_id() -> str:
    """A short id that names one replay run in the header every copy carries."""
    return secrets.token_hex(6)


@dataclass(frozen=True, slots=True)
class ReplayWindow:
    """What to replay, where: the archive's messages received in ``[since_ms, until_ms)``
    whose routing key ``pattern`` matches (all, without one), to the queue ``queue``."""

    since_ms: int
    until_ms: int
    queue: str
    run: str
    pattern: str | None = None
    source: str = "archive"  # the archive stream's name, in each copy's x-taskhook-replayed

    def wants(self, archived: ArchivedMessage) -> bool:
        return self.pattern is None or topic_matches(self.pattern, archived.message.routing_key)


async def matching(reader: ArchiveReader, window: ReplayWindow) -> AsyncIterator[ArchivedMessage]:
    """The archived messages ``window`` selects, in archive order: what a dry run lists."""
    async for archived in reader.read(window.since_ms, window.until_ms):
        if window.wants(archived):
            yield archived


def replay_copy(archived: ArchivedMessage, window: ReplayWindow) -> OutgoingMessage:
    """The copy to publish: addressed to the consumer's queue, marked with the run."""
    message = archived.message
    headers = {
        name: value
        for name, value in carried_headers(message).items()
        if name != OFFSET_HEADER  # the broker's, for the archive's reader
    }
    headers[REPLAYED_HEADER] = window.source
    headers[REPLAY_RUN_HEADER] = window.run
    # Arriving under the queue's name, it says which key it was published with, as a retry does.
    headers[ROUTING_KEY] = message.routing_key
    return copy_message(message, routing_key=window.queue, headers=headers)


async def replay_window(
    reader: ArchiveReader,
    connection: AmqpConnection,
    window: ReplayWindow,
    *,
    progress: Progress | None = None,
) -> int:
    """Publish a copy of each message ``window`` selects to its queue (mandatory, confirmed
    one by one); how many. Raises ``PublishFailed`` at the first copy not confirmed: what was
    confirmed before it stays delivered, and a re-run starts over."""
    count = 0
    async for archived in matching(reader, window):
        # The default exchange routes by queue name: only the consumer's queue gets it.
        await confirm_or_fail(connection, "", replay_copy(archived, window))
        count += 1
        if progress is not None:
            progress(count, archived)
    return count
