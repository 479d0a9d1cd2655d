"""Tools for a person at a terminal: send a signed sample, watch what gets published."""

import sys
from collections.abc import Sequence

import aio_pika
import aiohttp
import orjson
from aio_pika.exceptions import AMQPError, ChannelNotFoundEntity

from service.core.signature import sign
from service.ingest import now_ms


async def send_sample(sample: bytes, *, url: str, secret: str) -> int:
    """POST a sample delivery as Livepeer would: fresh ``timestamp``, compact JSON, signed.

    Returns 0 when the answer is 2xx, 1 otherwise.
    """
    document = orjson.loads(sample)
    document["timestamp"] = now_ms()
    body = orjson.dumps(document)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "livepeer.studio",
        "Livepeer-Signature": sign(body, secret.encode(), document["timestamp"]),
    }
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body, headers=headers) as response,
        ):
            print(response.status, await response.text())
            return 0 if response.status < 300 else 1
    except aiohttp.ClientConnectionError as e:
        print(f"taskhook send: cannot reach {url}: {e}", file=sys.stderr)
        return 1


async def tail(amqp_url: str, exchange: str, patterns: Sequence[str]) -> int:
    """Print every message published to ``exchange`` matching ``patterns`` until interrupted.

    The queue is exclusive and goes away with the connection: nothing is taken from consumers.
    """
    try:
        connection = await aio_pika.connect(amqp_url)
    except (AMQPError, OSError) as e:
        print(f"taskhook tail: cannot reach the broker: {type(e).__name__}", file=sys.stderr)
        return 1
    async with connection:
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
