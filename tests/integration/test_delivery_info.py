"""A handler reads its message's delivery (attempt, routing key, headers, reconciled or
replayed) with ``current_delivery()``, on the real broker through the real toolkit."""

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
import orjson
import pytest
from aio_pika.abc import AbstractChannel

from taskhook.consumers import (
    Consumer,
    DeliveryInfo,
    Running,
    TaskEvent,
    TransientError,
    consumer,
    current_deliveries,
    current_delivery,
)
from taskhook.core.recovery import RECONCILED_HEADER
from taskhook.settings import ConsumerSettings
from tests.conftest import ConsumerFactory
from tests.integration.test_operator_tools import tool
from tests.support.consumers import publish
from tests.support.lifecycle import task_life

WAIT_S = 10.0


async def eventually(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT_S):
        while not condition():
            await asyncio.sleep(0.02)


async def test_a_retry_is_the_second_attempt_under_the_key_it_was_published_with(
    start_consumer: ConsumerFactory, consumer_name: str, channel: AbstractChannel, exchange: str
) -> None:
    seen: list[DeliveryInfo] = []

    @consumer(consumer_name, "task.#")
    async def flaky(event: TaskEvent) -> None:
        seen.append(current_delivery())
        if len(seen) == 1:
            raise TransientError("not yet")

    await start_consumer(flaky, consumer_retry_delays_s=(0.2,))
    completed = task_life()[-1]
    await publish(channel, exchange, completed)
    await eventually(lambda: len(seen) == 2)
    assert [(d.attempt, d.routing_key, d.message_id) for d in seen] == [
        (1, "task.completed.upload", completed["id"]),
        (2, "task.completed.upload", completed["id"]),
    ]
    assert [(d.redelivered, d.reconciled, d.replayed) for d in seen] == [(False, None, None)] * 2


async def test_a_reconciled_event_says_so(
    start_consumer: ConsumerFactory, consumer_name: str, channel: AbstractChannel, exchange: str
) -> None:
    seen: list[DeliveryInfo] = []

    @consumer(consumer_name, "task.#")
    async def record(event: TaskEvent) -> None:
        seen.append(current_delivery())

    await start_consumer(record)
    completed = task_life()[-1]
    target = await channel.get_exchange(exchange, ensure=True)
    message = aio_pika.Message(
        orjson.dumps(completed),
        message_id=completed["id"],
        headers={RECONCILED_HEADER: "delivery-log"},
    )
    await target.publish(message, routing_key="task.completed.upload")
    await eventually(lambda: len(seen) == 1)
    assert seen[0].reconciled == "delivery-log"
    assert seen[0].headers[RECONCILED_HEADER] == "delivery-log"


async def test_a_replayed_dead_message_says_which_queue_it_came_from(
    start_consumer: ConsumerFactory, consumer_name: str, channel: AbstractChannel, exchange: str
) -> None:
    seen: list[DeliveryInfo] = []

    @consumer(consumer_name, "task.#")
    async def fixed_later(event: TaskEvent) -> None:
        seen.append(current_delivery())
        if len(seen) == 1:
            raise TransientError("broken until replayed")

    running = await start_consumer(
        fixed_later, consumer_retry_delays_s=(0.1,), consumer_max_attempts=1
    )
    await publish(channel, exchange, task_life()[-1])
    await eventually(lambda: len(seen) == 1)
    dead = running.topology.dead_queue
    async with asyncio.timeout(WAIT_S):
        while (
            await channel.declare_queue(dead, passive=True)
        ).declaration_result.message_count != 1:
            await asyncio.sleep(0.05)
    replayed = await tool(exchange, "replay", dead)
    assert replayed.code == 0, replayed.error
    await eventually(lambda: len(seen) == 2)
    assert seen[1].replayed == dead
    assert seen[1].attempt == 1  # a replay starts afresh


async def test_a_batch_handler_sees_each_events_delivery_in_order(
    start_consumer: ConsumerFactory, consumer_name: str, channel: AbstractChannel, exchange: str
) -> None:
    batches: list[tuple[list[str], list[str | None]]] = []

    async def batch(events: Sequence[TaskEvent]) -> None:
        deliveries = current_deliveries()
        batches.append(([e.id for e in events], [d.message_id for d in deliveries]))
        with pytest.raises(LookupError, match="current_deliveries"):
            current_delivery()

    async def one(event: TaskEvent) -> None:
        raise AssertionError("the batch succeeds")

    @asynccontextmanager
    async def opened(settings: ConsumerSettings) -> AsyncIterator[Running[TaskEvent]]:
        yield Running(one, batch=batch)

    batching: Consumer[Any] = Consumer(
        name=consumer_name, bindings=("task.#",), open=opened, event_type=TaskEvent
    )
    await start_consumer(batching, consumer_batch_size=10, consumer_batch_wait_ms=200)
    life = task_life()
    for body in life:
        await publish(channel, exchange, body)
    await eventually(lambda: sum(len(ids) for ids, _ in batches) == len(life))
    for event_ids, message_ids in batches:
        assert event_ids == message_ids


def test_outside_a_handler_there_is_no_current_delivery() -> None:
    with pytest.raises(LookupError):
        current_delivery()
    with pytest.raises(LookupError):
        current_deliveries()
