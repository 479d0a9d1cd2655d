"""``taskhook tail``: watch what gets published."""

import sys
from collections.abc import Sequence

import orjson
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import ChannelNotFoundEntity

from taskhook.broker.connection import BROKER_ERRORS, broker_address, close_quietly, closed_reason
from taskhook.tools.broker import ToolFailed, connect


async def tail(amqp_url: str, exchange: str, patterns: Sequence[str]) -> int:
    """Print every message published to ``exchange`` matching ``patterns`` until interrupted.

    The queue is exclusive and goes away with the connection: nothing is taken from consumers.
    Raises ``ToolFailed`` when the broker closes the connection: only Ctrl-C ends a tail.
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
            print(
                f"taskhook tail: no exchange {exchange!r}: start `taskhook serve` first",
                file=sys.stderr,
            )
            return 1
        print(f"waiting for {', '.join(patterns)} on {exchange} (Ctrl-C to stop)", file=sys.stderr)
        async with queue.iterator() as messages:
            async for message in messages:
                async with message.process():
                    print(_line(message), flush=True)
    except BROKER_ERRORS as e:  # the connection broke under a read, an ack or the iterator
        closed.append(e)
    finally:
        await close_quietly(connection)
    # Only Ctrl-C ends a tail on purpose; the iterator ends when its connection closed under it.
    reason = closed_reason(closed[0] if closed else None)
    raise ToolFailed(f"the broker at {broker_address(amqp_url)} closed the connection: {reason}")


def _line(message: AbstractIncomingMessage) -> str:
    return orjson.dumps(
        {
            "routing_key": message.routing_key,
            "message_id": message.message_id,
            "type": message.type,
            "headers": message.headers,
            "body": orjson.loads(message.body),
        }
    ).decode()
