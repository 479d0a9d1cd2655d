"""Running a consumer in the test's process, on the test's exchange, against the real broker."""

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any

import aio_pika
import aiohttp
import orjson
from aio_pika.abc import AbstractChannel
from prometheus_client.parser import text_string_to_metric_families

from taskhook.bootstrap import consumer_topology
from taskhook.broker.topology import ConsumerTopology
from taskhook.consumers import TaskEvent, TransientError, consumer
from taskhook.consumers.consumer import Consumer
from taskhook.consumers.process import run_consumer
from taskhook.settings import ConsumerSettings
from tests.support.lifecycle import task_life

READY_TIMEOUT_S = 15.0


@dataclass
class RunningConsumer:
    """A consumer run by ``run_consumer``, with its HTTP side on ``base_url``."""

    topology: ConsumerTopology
    base_url: str
    task: asyncio.Task[None]
    stop_event: asyncio.Event

    async def get(self, path: str) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as http, http.get(self.base_url + path) as response:
            body = await response.read()
            return response.status, orjson.loads(body) if body.startswith((b"{", b"[")) else body

    async def wait_ready(self) -> None:
        async with asyncio.timeout(READY_TIMEOUT_S):
            while True:
                try:
                    if (await self.get("/readyz"))[0] == 200:
                        return
                except aiohttp.ClientConnectionError:
                    pass
                if self.task.done():
                    await self.task  # raises what stopped it
                await asyncio.sleep(0.05)

    async def count(self, outcome: str) -> float:
        """``taskhook_consumer_messages_total{outcome=...}`` from its /metrics."""
        _, text = await self.get("/metrics")
        for family in text_string_to_metric_families(text.decode()):
            for sample in family.samples:
                if (
                    sample.name == "taskhook_consumer_messages_total"
                    and sample.labels["outcome"] == outcome
                ):
                    return sample.value
        return 0.0

    async def stop(self) -> None:
        self.stop_event.set()
        await asyncio.wait_for(self.task, 30)


def renamed(consumer: Consumer[Any], name: str) -> Consumer[Any]:
    """The same consumer under a test's own name, so its queues are the test's own."""
    return replace(consumer, name=name)


async def start(consumer: Consumer[Any], settings: ConsumerSettings) -> RunningConsumer:
    stop = asyncio.Event()
    topology = consumer_topology(consumer, settings)
    running = RunningConsumer(
        topology=topology,
        base_url=f"http://127.0.0.1:{settings.consumer_port}",
        task=asyncio.create_task(run_consumer(consumer, settings, topology, stop)),
        stop_event=stop,
    )
    await running.wait_ready()
    return running


async def publish(
    channel: AbstractChannel,
    exchange: str,
    body: dict[str, Any] | bytes,
    routing_key: str | None = None,
) -> None:
    """Publish as taskhook does: persistent, its event id as message_id, routed by event.type."""
    if isinstance(body, dict):
        task_type = body["task"]["type"]
        routing_key = routing_key or f"{body['event']}.{task_type}"
        message_id = body["id"]
        raw = orjson.dumps(body)
    else:
        message_id, raw = "not-an-event", body
    target = await channel.get_exchange(exchange, ensure=True)
    await target.publish(
        aio_pika.Message(
            raw, message_id=message_id, delivery_mode=aio_pika.DeliveryMode.PERSISTENT
        ),
        routing_key=routing_key or "task.updated.upload",
    )


async def delete_queues(channel: AbstractChannel, topology: ConsumerTopology) -> None:
    names = [topology.queue, topology.dead_queue]
    names += [topology.retry_queue(delay) for delay in topology.retry_delays_ms]
    for name in names:
        await channel.queue_delete(name)


@dataclass
class FlakyRun:
    """A consumer of ``task.#`` whose handler fails the first attempt at one event in ten (so
    its retry copy must be forwarded), the events to publish to it, and what became of them."""

    consumer: Consumer[Any]
    events: list[dict[str, Any]]
    failing: set[str]
    tried: set[str] = field(default_factory=set)
    handled: set[str] = field(default_factory=set)


def fails_one_in_ten_once(name: str, count: int) -> FlakyRun:
    """``count`` completed-task events with ids ``event-<n>``, and a consumer named ``name``
    that fails each one whose ``n`` ends in 5 once, then handles it."""
    events = [{**task_life()[-1], "id": f"event-{n}"} for n in range(count)]
    failing = {event["id"] for n, event in enumerate(events) if n % 10 == 5}
    tried: set[str] = set()
    handled: set[str] = set()

    @consumer(name, "task.#")
    async def flaky(event: TaskEvent) -> None:
        if event.id in failing and event.id not in tried:
            tried.add(event.id)
            raise TransientError("failing over")
        handled.add(event.id)

    return FlakyRun(flaky, events, failing, tried, handled)
