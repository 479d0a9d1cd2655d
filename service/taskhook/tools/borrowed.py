"""Every message a held-back queue holds ready, taken on loan: unacknowledged, oldest first.

What is not acknowledged goes back when the connection closes, so a look changes nothing for
good, and neither does a crash. Everything ready is taken even when fewer are wanted: a quorum
queue puts what it gets back behind what was given back before, and taking only some would
reorder the queue.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import ChannelNotFoundEntity

from taskhook.broker.received import received
from taskhook.core.held import HeldQueue, is_about
from taskhook.core.message import ReceivedMessage
from taskhook.tools.broker import ToolFailed, connect

GET_TIMEOUT_S = 10.0


@asynccontextmanager
async def borrowed(
    url: str, name: str
) -> AsyncIterator[tuple[AbstractChannel, AbstractQueue, int]]:
    """A channel, the queue ``name`` and how many messages it holds ready.

    Closing the connection gives back every message taken and not acknowledged.
    """
    async with await connect(url) as connection:
        channel = await connection.channel()
        try:
            queue = await channel.declare_queue(name, passive=True)
        except ChannelNotFoundEntity:
            raise ToolFailed(f"no queue {name!r} on this broker") from None
        declared = queue.declaration_result
        yield channel, queue, declared.message_count or 0


async def take_all(
    queue: AbstractQueue,
    count: int,
    *,
    keep: int | None = None,
    only: Callable[[ReceivedMessage], bool] | None = None,
) -> AsyncIterator[tuple[AbstractIncomingMessage, ReceivedMessage]]:
    """Take ``count`` messages, oldest first, and yield the first ``keep`` of them (of those
    ``only`` accepts, when given)."""
    kept = 0
    for _ in range(count):
        incoming = await queue.get(no_ack=False, fail=False, timeout=GET_TIMEOUT_S)
        if incoming is None:  # another reader holds the rest
            return
        message = received(incoming)
        if only is not None and not only(message):
            continue
        if keep is None or kept < keep:
            kept += 1
            yield incoming, message


def about(queue: HeldQueue, wanted: str | None) -> Callable[[ReceivedMessage], bool] | None:
    """The filter for ``take_all`` that keeps what ``wanted`` names (by message id or task id),
    or None (keep all) when nothing is wanted."""
    return None if wanted is None else lambda message: is_about(message, queue, wanted)
