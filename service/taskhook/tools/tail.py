"""``taskhook tail``: watch what gets published (the console's live view watches the same way)."""

import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import ChannelNotFoundEntity

from taskhook.broker.connection import BROKER_ERRORS, broker_address, close_quietly, closed_reason
from taskhook.tools.broker import ToolFailed, connect


class NoExchange(ToolFailed):
    """The exchange to watch does not exist (yet): nothing has declared it."""


async def tail(amqp_url: str, exchange: str, patterns: Sequence[str]) -> int:
    """Print every message published to ``exchange`` matching ``patterns`` until interrupted.

    Raises ``ToolFailed`` when the broker closes the connection: only Ctrl-C ends a tail.
    """
    try:
        async with watching(amqp_url, exchange, patterns) as messages:
            print(
                f"waiting for {', '.join(patterns)} on {exchange} (Ctrl-C to stop)",
                file=sys.stderr,
            )
            async for message in messages:
                print(orjson.dumps(as_line(message)).decode(), flush=True)
    except NoExchange:
        print(
            f"taskhook tail: no exchange {exchange!r}: start `taskhook serve` first",
            file=sys.stderr,
        )
        return 1
    raise AssertionError("unreachable: a watch ends only by an error")  # pragma: no cover


@asynccontextmanager
async def watching(
    amqp_url: str, exchange: str, patterns: Sequence[str]
) -> AsyncIterator[AsyncIterator[AbstractIncomingMessage]]:
    """The messages published to ``exchange`` matching ``patterns`` from now on, each acked as
    it is handed over, until the caller leaves.

    The queue is exclusive and goes away with the connection: nothing is taken from consumers.
    Raises ``NoExchange`` before the first message when there is no such exchange, and
    ``ToolFailed`` when the broker closes the connection under the watch.
    """
    connection = await connect(amqp_url)
    closed: list[BaseException | None] = []
    connection.close_callbacks.add(lambda _, error=None: closed.append(error))
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        try:
            for pattern in patterns:
                await queue.bind(exchange, routing_key=pattern)
        except ChannelNotFoundEntity:
            raise NoExchange(f"no exchange {exchange!r}: start `taskhook serve` first") from None

        async def arriving() -> AsyncIterator[AbstractIncomingMessage]:
            try:
                async with queue.iterator() as messages:
                    async for message in messages:
                        await message.ack()
                        yield message
            except BROKER_ERRORS as e:  # the connection broke under a read or an ack
                closed.append(e)
            # The iterator ends only when its connection closed under it.
            reason = closed_reason(closed[0] if closed else None)
            raise ToolFailed(
                f"the broker at {broker_address(amqp_url)} closed the connection: {reason}"
            )

        yield arriving()
    finally:
        await close_quietly(connection)


def as_line(message: AbstractIncomingMessage) -> dict[str, Any]:
    """One message as ``tail`` prints it: routing key, id, type, headers and the JSON body."""
    return {
        "routing_key": message.routing_key,
        "message_id": message.message_id,
        "type": message.type,
        "headers": message.headers,
        "body": orjson.loads(message.body),
    }
