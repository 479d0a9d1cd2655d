"""What every operator command does first: connect to the broker, or say in one line why not."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aio_pika.abc import AbstractConnection
from aio_pika.exceptions import ChannelNotFoundEntity

from taskhook.broker import connection
from taskhook.broker.amqp import AmqpConnection

CONNECTION_NAME = "taskhook-tools"


class ToolFailed(Exception):
    """Said to the operator in one line; the command exits 1."""


async def connect(url: str) -> AbstractConnection:
    """A connection named for the tools; ``ToolFailed`` when the broker cannot be used.

    The reason says where and what went wrong (refused, unreachable, credentials, vhost), in
    ``taskhook.broker.connection``'s words: never the password.
    """
    try:
        return await connection.connect(url, CONNECTION_NAME)
    except connection.BROKER_ERRORS as e:
        raise ToolFailed(connection.connection_failure(e, url)) from None


@asynccontextmanager
async def publishing(url: str, *, timeout_s: float) -> AsyncIterator[AmqpConnection]:
    """taskhook's own connection, to publish on (publishes time out after ``timeout_s``), closed
    on the way out; ``ToolFailed`` as for ``connect``."""
    try:
        opened = await connection.connect_amqp(url, CONNECTION_NAME, publish_timeout_s=timeout_s)
    except connection.BROKER_ERRORS as e:
        raise ToolFailed(connection.connection_failure(e, url)) from None
    try:
        yield opened
    finally:
        await opened.close(connection.CONNECT_TIMEOUT_S)


@dataclass(frozen=True, slots=True)
class QueueState:
    """A queue as the broker has it now: messages ready, and consumers attached."""

    name: str
    messages: int
    consumers: int


async def queue_state(connection: AbstractConnection, name: str) -> QueueState | None:
    """What the broker says of queue ``name``, or None when there is no such queue."""
    # A channel of its own: the broker closes a channel whose passive declaration fails.
    async with connection.channel() as channel:
        try:
            queue = await channel.declare_queue(name, passive=True)
        except ChannelNotFoundEntity:
            return None
        result = queue.declaration_result
        return QueueState(name, result.message_count or 0, result.consumer_count or 0)
