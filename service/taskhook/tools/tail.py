"""``taskhook tail``: watch what gets published."""

import sys
from collections.abc import Sequence

import orjson
from aio_pika.exceptions import ChannelNotFoundEntity

from taskhook.tools.broker import connect


async def tail(amqp_url: str, exchange: str, patterns: Sequence[str]) -> int:
    """Print every message published to ``exchange`` matching ``patterns`` until interrupted.

    The queue is exclusive and goes away with the connection: nothing is taken from consumers.
    """
    async with await connect(amqp_url) as connection:
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
                    print(
                        orjson.dumps(
                            {
                                "routing_key": message.routing_key,
                                "message_id": message.message_id,
                                "type": message.type,
                                "headers": message.headers,
                                "body": orjson.loads(message.body),
                            }
                        ).decode(),
                        flush=True,
                    )
    return 0
