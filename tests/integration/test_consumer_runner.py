"""The consumers toolkit on the real broker: ack after the handler, retry later, park the rest."""

import asyncio
import logging
import struct
import time
from datetime import UTC, datetime
from typing import Any, cast

import aio_pika
import orjson
import pytest
from aio_pika.abc import AbstractChannel
from pamqp import commands as spec
from pamqp.common import FieldTable

from taskhook.broker.connection import connect_amqp
from taskhook.consumers import Consumer, PermanentError, TaskEvent, TransientError, consumer
from taskhook.core import retry
from tests.conftest import ConsumerFactory
from tests.support.broker import AMQP_URL, declared_queue, take, through
from tests.support.consumers import publish
from tests.support.lifecycle import task_life
from tests.support.proxy import TcpProxy

WAIT_S = 10.0


async def eventually(condition: Any, timeout_s: float = WAIT_S) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.02)


async def ready_messages(channel: AbstractChannel, name: str) -> int:
    declared = await channel.declare_queue(name, passive=True)
    count: int = declared.declaration_result.message_count or 0
    return count


async def eventually_ready(channel: AbstractChannel, name: str, expected: int) -> int:
    """The ready count once it reaches ``expected``, or whatever it is after WAIT_S."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while (count := await ready_messages(channel, name)) < expected:
        if asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.05)
    return count


async def test_a_handled_event_arrives_typed_and_is_acked(
    start_consumer: ConsumerFactory, consumer_name: str, channel: AbstractChannel, exchange: str
) -> None:
    seen: list[TaskEvent] = []

    @consumer(consumer_name, "task.completed.*")
    async def record(event: TaskEvent) -> None:
        seen.append(event)

    running = await start_consumer(record)
    completed, updated = task_life()[-1], task_life()[2]
    await publish(channel, exchange, updated)  # not bound: task.updated.*
    await publish(channel, exchange, completed)
    await eventually(lambda: len(seen) == 1)
    assert seen[0].id == completed["id"]
    assert seen[0].task.status.phase == "completed"
    await running.stop()
    assert await ready_messages(channel, running.topology.queue) == 0
    assert await ready_messages(channel, running.topology.dead_queue) == 0


async def test_a_transient_failure_is_retried_after_the_delay_and_then_succeeds(
    start_consumer: ConsumerFactory,
    consumer_name: str,
    channel: AbstractChannel,
    exchange: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="taskhook")
    attempts: list[float] = []

    @consumer(consumer_name, "task.#")
    async def flaky(event: TaskEvent) -> None:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise TransientError("the database is failing over")

    running = await start_consumer(flaky, consumer_retry_delays_s=(0.5,))
    await publish(channel, exchange, task_life()[-1])
    await eventually(lambda: len(attempts) == 2)
    assert attempts[1] - attempts[0] >= 0.5
    assert await running.count("retried") == 1
    assert await running.count("handled") == 1
    assert await ready_messages(channel, running.topology.dead_queue) == 0
    # The retry arrives under its queue's name; its log line shows the key it was published with.
    logged = {
        record.getMessage(): getattr(record, "routing_key", None)
        for record in caplog.records
        if record.getMessage() in ("message retried", "message handled")
    }
    assert logged == {
        "message retried": "task.completed.upload",
        "message handled": "task.completed.upload",
    }
    (retried,) = [r for r in caplog.records if r.getMessage() == "message retried"]
    assert (retried.error, retried.detail) == (  # type: ignore[attr-defined]
        "TransientError",
        "the database is failing over",
    )


async def test_a_retried_messages_log_line_masks_credentials_the_error_quotes(
    start_consumer: ConsumerFactory,
    consumer_name: str,
    channel: AbstractChannel,
    exchange: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="taskhook")

    @consumer(consumer_name, "task.#")
    async def failing(event: TaskEvent) -> None:
        raise ConnectionError("cannot reach postgresql://app:pa55word@db:5432/tasks " + "x" * 900)

    running = await start_consumer(failing, consumer_retry_delays_s=(30,))
    await publish(channel, exchange, task_life()[-1])
    await eventually(lambda: any(r.getMessage() == "message retried" for r in caplog.records))
    await running.stop()
    (retried,) = [r for r in caplog.records if r.getMessage() == "message retried"]
    detail: str = retried.detail  # type: ignore[attr-defined]
    assert detail.startswith("cannot reach postgresql://***:***@db:5432/tasks x")
    assert "pa55word" not in detail
    assert len(detail) == 500


async def test_a_poison_message_ends_in_the_dead_queue_with_why(
    start_consumer: ConsumerFactory, consumer_name: str, channel: AbstractChannel, exchange: str
) -> None:
    calls = 0

    @consumer(consumer_name, "task.#")
    async def broken(event: TaskEvent) -> None:
        nonlocal calls
        calls += 1
        raise KeyError("output")

    running = await start_consumer(broken, consumer_max_attempts=3)
    body = task_life()[-1]
    await publish(channel, exchange, body)
    parked = await take(await declared_queue(channel, running.topology.dead_queue), WAIT_S)

    assert calls == 3
    assert orjson.loads(parked.body) == body
    assert parked.message_id == body["id"]
    headers = parked.headers
    assert headers[retry.DEAD_REASON] == "attempts-exhausted"
    assert headers[retry.ATTEMPTS] == 3
    assert (headers[retry.ERROR_TYPE], headers[retry.ERROR_MESSAGE]) == ("KeyError", "'output'")
    assert headers[retry.ROUTING_KEY] == "task.completed.upload"
    assert str(headers[retry.FIRST_FAILURE_AT]) < str(headers[retry.LAST_FAILURE_AT])
    assert await running.count("dead-lettered") == 1


async def test_a_permanent_error_is_parked_at_once(
    start_consumer: ConsumerFactory, consumer_name: str, channel: AbstractChannel, exchange: str
) -> None:
    calls = 0

    @consumer(consumer_name, "task.#")
    async def refuse(event: TaskEvent) -> None:
        nonlocal calls
        calls += 1
        raise PermanentError("asset deleted")

    running = await start_consumer(refuse, consumer_max_attempts=5)
    await publish(channel, exchange, task_life()[-1])
    parked = await take(await declared_queue(channel, running.topology.dead_queue), WAIT_S)
    assert calls == 1
    assert parked.headers[retry.DEAD_REASON] == "permanent-error"
    assert parked.headers[retry.ERROR_MESSAGE] == "asset deleted"


async def test_a_body_that_is_not_an_event_is_parked_without_calling_the_handler(
    start_consumer: ConsumerFactory, consumer_name: str, channel: AbstractChannel, exchange: str
) -> None:
    called = False

    @consumer(consumer_name, "task.#")
    async def never(event: TaskEvent) -> None:
        nonlocal called
        called = True

    running = await start_consumer(never)
    await publish(channel, exchange, b'{"event": "task.updated", "task": {"type": 7}}')
    parked = await take(await declared_queue(channel, running.topology.dead_queue), WAIT_S)
    assert not called
    assert parked.headers[retry.DEAD_REASON] == "invalid-event"
    assert "/task/type" in str(parked.headers[retry.ERROR_MESSAGE])


async def test_handlers_run_concurrently_up_to_the_limit(
    start_consumer: ConsumerFactory, consumer_name: str, channel: AbstractChannel, exchange: str
) -> None:
    active, most, done = 0, 0, 0

    @consumer(consumer_name, "task.#")
    async def slow(event: TaskEvent) -> None:
        nonlocal active, most, done
        active += 1
        most = max(most, active)
        await asyncio.sleep(0.2)
        active -= 1
        done += 1

    await start_consumer(slow, consumer_concurrency=3, consumer_prefetch=10)
    for body in task_life():
        await publish(channel, exchange, body)
    await eventually(lambda: done == 7)
    assert most == 3


async def test_stop_finishes_the_message_in_hand_and_leaves_the_rest_queued(
    start_consumer: ConsumerFactory, consumer_name: str, channel: AbstractChannel, exchange: str
) -> None:
    started, release, finished = asyncio.Event(), asyncio.Event(), []

    @consumer(consumer_name, "task.#")
    async def blocking(event: TaskEvent) -> None:
        started.set()
        await release.wait()
        finished.append(event.id)

    running = await start_consumer(blocking, consumer_concurrency=1, consumer_prefetch=5)
    life = task_life()
    for body in life[:3]:
        await publish(channel, exchange, body)
    await asyncio.wait_for(started.wait(), WAIT_S)
    stopping = asyncio.create_task(running.stop())
    await asyncio.sleep(0.3)
    assert not stopping.done()  # waits for the handler in progress
    release.set()
    await asyncio.wait_for(stopping, WAIT_S)

    assert len(finished) == 1
    # Given back as the consumer's channel closes; a quorum queue counts them ready a moment later.
    assert await eventually_ready(channel, running.topology.queue, 2) == 2


async def test_an_outage_mid_handler_redelivers_the_message_and_nothing_is_lost(
    start_consumer: ConsumerFactory,
    consumer_name: str,
    channel: AbstractChannel,
    exchange: str,
    proxy: TcpProxy,
) -> None:
    handled: list[str] = []
    first_started, release = asyncio.Event(), asyncio.Event()

    @consumer(consumer_name, "task.#")
    async def held(event: TaskEvent) -> None:
        if not first_started.is_set():
            first_started.set()
            await release.wait()
        handled.append(event.id)

    running = await start_consumer(held, amqp_url=through(proxy), consumer_concurrency=1)
    life = task_life()
    await publish(channel, exchange, life[0])
    await asyncio.wait_for(first_started.wait(), WAIT_S)
    await proxy.stop()  # the broker vanishes while the handler holds the message
    release.set()
    for body in life[1:]:  # published straight to the broker during the outage
        await publish(channel, exchange, body)
    await proxy.start()

    await eventually(lambda: {body["id"] for body in life} <= set(handled))
    # Its ack could not reach the broker, so the broker delivered it again.
    assert handled.count(life[0]["id"]) == 2
    await running.stop()
    assert await ready_messages(channel, running.topology.queue) == 0
    assert await ready_messages(channel, running.topology.dead_queue) == 0


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_the_consumer_process_answers_its_probes(
    start_consumer: ConsumerFactory, consumer_name: str, path: str
) -> None:
    @consumer(consumer_name, "task.#")
    async def idle(event: TaskEvent) -> None:
        return None

    running = await start_consumer(idle)
    assert (await running.get(path))[0] == 200


async def test_a_retried_then_parked_copy_keeps_the_original_properties_and_headers(
    start_consumer: ConsumerFactory, consumer_name: str, channel: AbstractChannel, exchange: str
) -> None:
    @consumer(consumer_name, "task.#")
    async def failing(event: TaskEvent) -> None:
        raise TransientError("not yet")

    running = await start_consumer(failing, consumer_max_attempts=2)
    body = task_life()[-1]
    sent_at = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
    own: FieldTable = {"webhook-id": "wh-1", "flag": True, "ratio": 0.5, "nested": {"a": 1}}
    target = await channel.get_exchange(exchange, ensure=True)
    await target.publish(
        aio_pika.Message(
            orjson.dumps(body),
            message_id=body["id"],
            type="task.completed",
            content_type="application/json",
            app_id="another-publisher",
            timestamp=sent_at,
            headers=own,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        ),
        routing_key="task.completed.upload",
    )
    parked = await take(await declared_queue(channel, running.topology.dead_queue), WAIT_S)

    assert parked.headers[retry.ATTEMPTS] == 2  # through one retry queue, then the dead queue
    assert (parked.body, parked.message_id, parked.type) == (
        orjson.dumps(body),
        body["id"],
        "task.completed",
    )
    assert (parked.content_type, parked.app_id, parked.timestamp) == (
        "application/json",
        "another-publisher",
        sent_at,
    )
    assert {name: parked.headers[name] for name in own} == own
    assert not any(name.startswith("x-death") for name in parked.headers)


def recorder(name: str) -> tuple[Consumer[TaskEvent], list[str]]:
    """A consumer of every task event, and the ids it has handled, in order."""
    seen: list[str] = []

    @consumer(name, "task.#")
    async def record(event: TaskEvent) -> None:
        seen.append(event.id)

    return record, seen


async def test_a_consumer_whose_queue_is_deleted_declares_it_again_and_goes_on(
    start_consumer: ConsumerFactory, consumer_name: str, channel: AbstractChannel, exchange: str
) -> None:
    # RabbitMQ tells a consumer its queue is gone only if it asked to be told: without that, it
    # would wait forever on a healthy-looking connection.
    record, seen = recorder(consumer_name)
    running = await start_consumer(record)
    await channel.queue_delete(running.topology.queue)  # an operator's mistake

    first, second = task_life()[:2]
    async with asyncio.timeout(WAIT_S):
        while not seen:  # published until the queue is back and bound
            await publish(channel, exchange, first)
            await asyncio.sleep(0.2)
    await publish(channel, exchange, second)
    await eventually(lambda: second["id"] in seen)
    assert set(seen) == {first["id"], second["id"]}  # each handled, on the queue declared again
    assert await ready_messages(channel, running.topology.queue) == 0


class MicrosecondTimestamp:
    """Properties as a sender that stamps microseconds writes them: the timestamp reads as a
    year past 9999, which no client can turn into a date."""

    def __init__(self, message_id: str) -> None:
        self.message_id = message_id

    def marshal(self) -> bytes:
        flags = 0x0080 | 0x0040  # message-id, timestamp
        message_id = self.message_id.encode()
        stamp = int(time.time() * 1_000_000)
        return struct.pack(">HB", flags, len(message_id)) + message_id + struct.pack(">Q", stamp)


async def test_a_message_whose_properties_cannot_be_read_is_dead_lettered_alone(
    start_consumer: ConsumerFactory, consumer_name: str, channel: AbstractChannel, exchange: str
) -> None:
    record, seen = recorder(consumer_name)
    running = await start_consumer(record)
    life = task_life()
    target = await channel.get_exchange(exchange, ensure=True)
    # A timestamp in microseconds reads as a year past 9999: pamqp cannot decode it.
    await target.publish(
        aio_pika.Message(orjson.dumps(life[0]), message_id=life[0]["id"]),
        routing_key="task.spawned.upload",
    )
    connection = await connect_amqp(AMQP_URL, "taskhook-test", publish_timeout_s=WAIT_S)
    try:
        unreadable = cast(spec.Basic.Properties, MicrosecondTimestamp("unreadable"))
        await connection.publish(exchange, "task.updated.upload", unreadable, b"{}")
    finally:
        await connection.close(5)
    await publish(channel, exchange, life[2])

    await eventually(lambda: len(seen) == 2)
    assert seen == [life[0]["id"], life[2]["id"]]
    # Counted, not read: aio-pika cannot read it either.
    assert await eventually_ready(channel, running.topology.dead_queue, 1) == 1
