"""Consumers with a batch handler, on the real broker: applied together, acked together only
after the handler returned, and one by one (with the usual retries) when the batch fails."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aio_pika.abc import AbstractChannel

from taskhook.consumers import Consumer, Running, TaskEvent
from taskhook.core import retry
from taskhook.settings import ConsumerSettings
from tests.conftest import ConsumerFactory
from tests.support.broker import declared_queue, take
from tests.support.consumers import publish
from tests.support.lifecycle import task_life

WAIT_S = 10.0
Batch = Callable[[Sequence[TaskEvent]], Awaitable[None]]


def batching(name: str, batch: Batch, one: Callable[[TaskEvent], Awaitable[None]]) -> Consumer[Any]:
    @asynccontextmanager
    async def opened(settings: ConsumerSettings) -> AsyncIterator[Running[TaskEvent]]:
        yield Running(one, batch=batch)

    return Consumer(name=name, bindings=("task.#",), open=opened, event_type=TaskEvent)


async def eventually(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT_S):
        while not condition():
            await asyncio.sleep(0.02)


async def unacked_and_ready(channel: AbstractChannel, queue: str) -> int:
    declared = await channel.declare_queue(queue, passive=True)
    return declared.declaration_result.message_count or 0


async def test_events_arrive_in_batches_in_order_and_are_all_acked(
    start_consumer: ConsumerFactory, consumer_name: str, channel: AbstractChannel, exchange: str
) -> None:
    batches: list[list[str]] = []
    published = asyncio.Event()

    async def apply(events: Sequence[TaskEvent]) -> None:
        batches.append([event.id for event in events])
        await published.wait()  # the rest gathers behind the first batch meanwhile

    async def never(event: TaskEvent) -> None:
        raise AssertionError("a batch that succeeds is not handled one by one")

    life = task_life() + task_life("clip")
    running = await start_consumer(
        batching(consumer_name, apply, never), consumer_batch_size=5, consumer_batch_wait_ms=50
    )
    for body in life:
        await publish(channel, exchange, body)
    published.set()
    await eventually(lambda: sum(map(len, batches)) == len(life))

    assert [message_id for batch in batches for message_id in batch] == [b["id"] for b in life]
    assert [len(batch) for batch in batches[1:-1]] == [5] * (len(batches) - 2)
    assert await running.count("handled") == len(life)
    await running.stop()  # acked: nothing comes back to the queue
    assert await unacked_and_ready(channel, running.topology.queue) == 0


async def test_a_failed_batch_is_handled_one_by_one_with_retries(
    start_consumer: ConsumerFactory, consumer_name: str, channel: AbstractChannel, exchange: str
) -> None:
    one_by_one: list[str] = []
    failures = 0

    async def refuse(events: Sequence[TaskEvent]) -> None:
        raise ConnectionError("database away")

    async def apply_one(event: TaskEvent) -> None:
        nonlocal failures
        if event.task.status.phase == "completed" and failures == 0:
            failures += 1
            raise ConnectionError("still away")  # retried later, like any transient failure
        one_by_one.append(event.id)

    life = task_life()
    running = await start_consumer(batching(consumer_name, refuse, apply_one))
    for body in life:
        await publish(channel, exchange, body)
    await eventually(lambda: len(one_by_one) == len(life))

    assert sorted(one_by_one) == sorted(body["id"] for body in life)
    assert await running.count("retried") >= 1
    assert await running.count("handled") == len(life)


async def test_an_invalid_message_in_a_batch_is_parked_and_the_rest_applied(
    start_consumer: ConsumerFactory, consumer_name: str, channel: AbstractChannel, exchange: str
) -> None:
    applied: list[str] = []

    async def apply(events: Sequence[TaskEvent]) -> None:
        applied.extend(event.id for event in events)

    async def never(event: TaskEvent) -> None:
        raise AssertionError("not reached")

    running = await start_consumer(
        batching(consumer_name, apply, never), consumer_batch_wait_ms=200
    )
    first, last = task_life()[0], task_life()[-1]
    await publish(channel, exchange, first)
    await publish(channel, exchange, b'{"not": "an event"}')
    await publish(channel, exchange, last)
    parked = await take(await declared_queue(channel, running.topology.dead_queue), WAIT_S)

    assert parked.headers[retry.DEAD_REASON] == "invalid-event"
    await eventually(lambda: len(applied) == 2)
    assert applied == [first["id"], last["id"]]
    await running.stop()
    assert await unacked_and_ready(channel, running.topology.queue) == 0
