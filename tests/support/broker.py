"""Looking at the real broker from a test: bind a queue, take what arrives, prove nothing did."""

import asyncio
import os
from typing import Any

import orjson
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from yarl import URL

from tests.support.proxy import TcpProxy

AMQP_URL = os.environ.get("TASKHOOK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def through(proxy: TcpProxy) -> str:
    """The broker URL, reached through ``proxy``."""
    return str(URL(AMQP_URL).with_host("127.0.0.1").with_port(proxy.port))


async def bind_queue(channel: AbstractChannel, exchange: str, *patterns: str) -> AbstractQueue:
    """An exclusive queue bound to ``exchange``: what a downstream consumer would see."""
    queue = await channel.declare_queue(exclusive=True)
    for pattern in patterns:
        await queue.bind(exchange, routing_key=pattern)
    return queue


async def take(queue: AbstractQueue, timeout_s: float = 5.0) -> AbstractIncomingMessage:
    """The next message in ``queue`` (acked), waiting up to ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        while (message := await queue.get(fail=False)) is None:
            await asyncio.sleep(0.02)
    await message.ack()
    return message


async def queue_is_empty(queue: AbstractQueue, settle_s: float = 0.3) -> bool:
    """True when nothing arrives within ``settle_s``: for checking something was NOT published."""
    await asyncio.sleep(settle_s)
    message = await queue.get(fail=False)
    if message is not None:
        await message.nack(requeue=True)
    return message is None


async def declared_queue(channel: AbstractChannel, name: str) -> AbstractQueue:
    """A queue the service declared, opened passively (fails if it does not exist)."""
    return await channel.get_queue(name, ensure=True)


def body_of(message: AbstractIncomingMessage) -> Any:
    return orjson.loads(message.body)
