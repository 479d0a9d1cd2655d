"""Running one consumer against RabbitMQ, so that a message is settled only after its handler.

``ConsumerRunner`` keeps a connection open through the connection supervisor, declares the
consumer's topology each time it connects, and hands each message to ``Handling`` (one at a
time up to the concurrency, or in batches for a consumer with a batch handler), which settles it
only once its handler is done.

A crash or outage before the ack leaves the message unacked, and the broker delivers it again:
nothing is lost, and a handler must be idempotent. Acks are sent only on the channel the message
came from, so a message from before a reconnect is never acked twice.

Copies to the retry and dead queues are published on a second connection of the session's own,
never on the one that consumes: during a memory or disk alarm RabbitMQ stops reading a
connection once it publishes, acks included, and a consumer that forwarded one failure would
stand still at its prefetch for as long as the alarm lasts.
"""

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from taskhook.broker.amqp import AmqpConnection, Delivered
from taskhook.broker.connection import (
    CONNECT_TIMEOUT_S,
    Supervisor,
    wait_for_either,
)
from taskhook.broker.declare import declare_on
from taskhook.broker.topology import ConsumerTopology
from taskhook.consumers.batches import Batches
from taskhook.consumers.consumer import Consumer, Running
from taskhook.consumers.handling import Handling
from taskhook.consumers.settle import FORWARD_TIMEOUT_S, give_back
from taskhook.core.retry import RetryPolicy
from taskhook.metrics import ConsumerMetrics
from taskhook.settings import ConsumerSettings

log = logging.getLogger(__name__)

BATCHES_PREFETCHED = 4


class ConsumerRunner:
    """Consumes one consumer's queue until told to stop."""

    def __init__(
        self,
        consumer: Consumer[Any],
        running: Running[Any],
        topology: ConsumerTopology,
        settings: ConsumerSettings,
        metrics: ConsumerMetrics,
    ) -> None:
        self._consumer = consumer
        self._supervisor = Supervisor(
            settings.amqp_url.get_secret_value(),
            publish_timeout_s=FORWARD_TIMEOUT_S,
            name=f"taskhook.{consumer.name}",
            fields={"consumer": consumer.name},
        )
        self._prefetch = settings.consumer_prefetch
        self._grace_s = settings.consumer_shutdown_grace_s
        self._slots = asyncio.Semaphore(settings.consumer_concurrency)
        policy = RetryPolicy(settings.retry_delays_ms, settings.consumer_max_attempts)
        self._handling = Handling(
            consumer, running.handler, running.batch, topology, policy, metrics
        )
        self._batch_size = settings.consumer_batch_size
        # With a batch handler, room for the batch in hand and three filling behind it: with
        # less, the broker waits for acks between batches (docs/performance.md, Consumers).
        batching = running.batch is not None and self._batch_size > 1
        self._prefetch_for_batches = (
            max(settings.consumer_prefetch, BATCHES_PREFETCHED * self._batch_size)
            if batching
            else 0
        )
        self._batch_wait_s = settings.consumer_batch_wait_ms / 1000
        self._metrics = metrics
        # Set on every message in and out: the labelled child is looked up once.
        self._in_flight_gauge = metrics.in_flight.labels(consumer.name)
        self._count_unreadable = metrics.messages.labels(consumer.name, "dead-lettered")
        self.topology = topology
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._consuming = False
        self._stopping = False

    @property
    def ready(self) -> bool:
        """True while the queue is being consumed."""
        return self._consuming

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then finish the messages in hand and return."""
        await self._supervisor.run(self._consume, stop)
        log.info("consumer stopped", extra={"consumer": self._consumer.name})

    async def _consume(
        self, connection: AmqpConnection, lost: asyncio.Event, stop: asyncio.Event
    ) -> None:
        forwarding = await self._supervisor.open_beside("forward")
        forwarding.on_lost.append(lambda _: lost.set())  # one session: both go, both come back
        try:
            await self._consume_on(connection, forwarding, lost, stop)
        finally:
            await forwarding.close(CONNECT_TIMEOUT_S)

    async def _consume_on(
        self,
        connection: AmqpConnection,
        forwarding: AmqpConnection,
        lost: asyncio.Event,
        stop: asyncio.Event,
    ) -> None:
        """Consume on ``connection``; copies to other queues go on ``forwarding``."""
        await connection.qos(self._prefetch_for_batches or self._prefetch)
        await declare_on(connection, self.topology.declarations())
        batches = self._batches(forwarding, broken=lost.set)
        intake = _Intake(self, forwarding, batches)
        connection.on_unreadable.append(self._unreadable)
        queue = self.topology.queue
        try:
            tag = await connection.consume(queue, intake.take)
            self._set_consuming(True)
            log.info("consuming", extra={"consumer": self._consumer.name, "queue": queue})
            try:
                await wait_for_either(stop, lost)
            finally:
                self._set_consuming(False)
            if lost.is_set():
                # Messages in hand go with the connection; unacked, they come back.
                log.warning("broker connection lost", extra={"consumer": self._consumer.name})
                return
            self._stopping = True
            if batches is not None:  # first: no batch starts after the stop
                for message in batches.close():  # another replica can take them now
                    await give_back(message)
                    self._track(-1)
            await connection.cancel(tag)
            await self._finish_in_flight()
        finally:
            if batches is not None:  # whatever is left is redelivered: its channel goes
                self._track(-batches.abandon())
            await intake.end()  # past the grace, or the connection lost

    async def _finish_in_flight(self) -> None:
        try:
            async with asyncio.timeout(self._grace_s):
                await self._idle.wait()
        except TimeoutError:
            log.warning(
                "stopping with messages unfinished; the broker will deliver them again",
                extra={"consumer": self._consumer.name, "in_flight": self._in_flight},
            )

    def _batches(
        self, forwarding: AmqpConnection, *, broken: Callable[[], object]
    ) -> Batches[Delivered] | None:
        if not self._prefetch_for_batches:
            return None

        async def handle(batch: list[Delivered]) -> None:
            try:
                await self._handling.batch_of(forwarding, batch)
            finally:
                self._track(-len(batch))

        return Batches(handle, size=self._batch_size, wait_s=self._batch_wait_s, broken=broken)

    async def _on_message(self, forwarding: AmqpConnection, message: Delivered) -> None:
        self._track(+1)
        try:
            if self._stopping:  # not waiting for a slot only to give it back
                await give_back(message)
                return
            async with self._slots:
                if self._stopping:  # prefetched, not started: another replica can take it now
                    await give_back(message)
                    return
                outcome = await self._handling.run(message)
            # Outside the slot: a forward waiting out an alarm must not stop other handlers.
            await self._handling.settle(forwarding, message, outcome)
        finally:
            self._track(-1)

    def _unreadable(self, delivery_tag: int) -> None:
        """The connection refused a message whose properties it could not read: dead-lettered
        by the broker, without the headers a handled failure gets."""
        self._count_unreadable.inc()
        log.warning(
            "message with unreadable properties dead-lettered",
            extra={"consumer": self._consumer.name, "delivery_tag": delivery_tag},
        )

    def _track(self, change: int) -> None:
        self._in_flight += change
        self._in_flight_gauge.set(self._in_flight)
        if self._in_flight:
            self._idle.clear()
        else:
            self._idle.set()

    def _set_consuming(self, consuming: bool) -> None:
        self._consuming = consuming
        self._metrics.broker_connected.labels(self._consumer.name).set(int(consuming))


class _Intake:
    """Where one session's deliveries go: into the batcher, or each into a task of its own (one
    by one, or given back: stopping, or the batcher broken); nowhere once the session is over,
    since they come back when its connection closes. ``forwarding`` is where copies go."""

    def __init__(
        self,
        runner: ConsumerRunner,
        forwarding: AmqpConnection,
        batches: Batches[Delivered] | None,
    ) -> None:
        self._runner = runner
        self._forwarding = forwarding
        self._batches = batches
        self._tasks: set[asyncio.Task[None]] = set()
        self._over = False

    def take(self, message: Delivered) -> None:
        if self._over:
            return
        batches, runner = self._batches, self._runner
        if batches is not None and not batches.closed:
            runner._track(+1)
            batches.put(message)
            return
        if batches is not None or runner._stopping:
            work = give_back(message)
        else:
            work = runner._on_message(self._forwarding, message)
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def end(self) -> None:
        """Take no more, and stop what is still being handled: unacked, it comes back."""
        self._over = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
