"""Replicas sharing their memory of confirmed events through the real Redis on this machine:
a copy at another replica is not published again, one arriving while the first is still being
published waits for it, and a Redis that is down or hangs costs a delivery nothing."""

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio
from aio_pika.abc import AbstractChannel
from yarl import URL

from taskhook.replicas.redis import key_prefix
from tests.conftest import ServiceFactory
from tests.support.broker import bind_queue, queue_is_empty, take, through
from tests.support.deliveries import load_sample
from tests.support.processes import free_port
from tests.support.proxy import TcpProxy

REDIS_URL = os.environ.get("TASKHOOK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def fresh_event() -> dict[str, Any]:
    """A sample with an id of its own: Redis remembers ids for 25 h, across test runs."""
    document = load_sample("task.completed.upload.json")
    document["id"] = f"shared-dedup-{uuid.uuid4()}"
    return document


@pytest.fixture
async def forget(exchange: str) -> AsyncIterator[list[str]]:
    """Event keys the test wrote to Redis; removed after it."""
    keys: list[str] = []
    yield keys
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    async with client:
        if keys:
            await client.delete(*(f"{key_prefix(exchange)}{key}" for key in keys))


def key_of(document: dict[str, Any]) -> str:
    return f"{document['webhookId']} {document['id']}"


async def test_a_copy_at_another_replica_is_answered_duplicate_and_not_published_again(
    start_service: ServiceFactory, channel: AbstractChannel, exchange: str, forget: list[str]
) -> None:
    replicas = [await start_service(dedup_redis_url=REDIS_URL) for _ in range(2)]
    for replica in replicas:
        await replica.wait_until(ready=True)
    queue = await bind_queue(channel, exchange, "#")
    document = fresh_event()
    forget.append(key_of(document))

    first = await replicas[0].deliver(document)
    again = await replicas[1].deliver(document)

    assert first.status == 202
    assert again.status == 200
    assert (await again.json())["status"] == "duplicate"
    assert (await take(queue)).message_id == document["id"]
    assert await queue_is_empty(queue)


async def test_a_copy_arriving_while_another_replica_publishes_waits_and_shares_its_outcome(
    start_service: ServiceFactory,
    proxy: TcpProxy,
    channel: AbstractChannel,
    exchange: str,
    forget: list[str],
) -> None:
    slow = await start_service(amqp_url=through(proxy), dedup_redis_url=REDIS_URL)
    other = await start_service(dedup_redis_url=REDIS_URL)
    for replica in (slow, other):
        await replica.wait_until(ready=True)
    queue = await bind_queue(channel, exchange, "#")
    document = fresh_event()
    forget.append(key_of(document))

    proxy.pause()  # the first replica's publish waits for the broker
    first = asyncio.create_task(slow.deliver(document))
    await asyncio.sleep(0.3)
    copy = asyncio.create_task(other.deliver(document))
    await asyncio.sleep(0.3)
    assert not copy.done(), "the copy waits for the publish in progress elsewhere"
    proxy.resume()

    assert (await first).status == 202
    assert (await copy).status == 200
    assert (await take(queue)).message_id == document["id"]
    assert await queue_is_empty(queue)


@pytest.mark.parametrize("fault", ["refused", "hanging"])
async def test_a_redis_that_is_down_or_hangs_costs_a_delivery_nothing(
    start_service: ServiceFactory, channel: AbstractChannel, exchange: str, fault: str
) -> None:
    target = URL(REDIS_URL)
    hanging = TcpProxy(target.host or "127.0.0.1", target.port or 6379)
    await hanging.start()
    try:
        if fault == "refused":
            url = f"redis://127.0.0.1:{free_port()}/0"
        else:
            url = f"redis://127.0.0.1:{hanging.port}/0"
            hanging.pause()  # connects, then never answers
        service = await start_service(dedup_redis_url=url)
        await service.wait_until(ready=True)
        queue = await bind_queue(channel, exchange, "#")
        document = fresh_event()

        started = time.monotonic()
        first = await service.deliver(document)
        elapsed = time.monotonic() - started
        again = await service.deliver(document)

        assert first.status == 202
        assert elapsed < 2.0  # the claim and the confirm each give up within 0.25 s
        assert again.status == 200  # the replica's own memory still says duplicate
        assert (await take(queue)).message_id == document["id"]
        assert await queue_is_empty(queue)
    finally:
        hanging.resume()
        await hanging.stop()
