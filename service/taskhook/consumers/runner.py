"""Running one consumer against RabbitMQ, so that a message is settled only after its handler.

``ConsumerRunner`` keeps a connection open through the connection supervisor, declares the
consumer's topology each time it connects, and hands each message to the handler. Then, and only
then, it settles it:

- the handler returned: ack;
- it failed and may succeed later: a copy goes to a retry queue (confirmed), then ack;
- it can never succeed, or attempts ran out: a copy goes to the dead queue (confirmed), then ack.

A crash or outage before the ack leaves the message unacked, and the broker delivers it again:
nothing is lost, and a handler must be idempotent. Acks are sent only on the channel the message
came from, so a message from before a reconnect is never acked twice.
"""

import asyncio
import logging
import time
from functools import partial
from typing import Any

from aio_pika.abc import AbstractConnection, AbstractIncomingMessage
from aiormq.channel import Channel as UnderlayChannel
from pydantic import ValidationError

from taskhook.broker.confirmed import open_confirm_channel
from taskhook.broker.connection import Supervisor, wait_for_either
from taskhook.broker.declare import declare_consumer_topology
from taskhook.broker.topology import ConsumerTopology
from taskhook.clock import now_ms
from taskhook.consumers.consumer import Consumer, Handler, PermanentError
from taskhook.consumers.settle import ack, forward, give_back
from taskhook.core.delivery import describe_problems, summarize_problems
from taskhook.core.retry import Failure, RetryLater, RetryPolicy, attempts_made, decide
from taskhook.metrics import ConsumerMetrics
from taskhook.settings import ConsumerSettings

log = logging.getLogger(__name__)


class ConsumerRunner:
    """Consumes one consumer's queue until told to stop."""

    def __init__(
        self,
        consumer: Consumer[Any],
        handler: Handler[Any],
        topology: ConsumerTopology,
        settings: ConsumerSettings,
        metrics: ConsumerMetrics,
    ) -> None:
        self._consumer = consumer
        self._handler = handler
        self._supervisor = Supervisor(
            settings.amqp_url.get_secret_value(),
            name=f"taskhook.{consumer.name}",
            fields={"consumer": consumer.name},
        )
        self._prefetch = settings.consumer_prefetch
        self._grace_s = settings.consumer_shutdown_grace_s
        self._slots = asyncio.Semaphore(settings.consumer_concurrency)
        self._policy = RetryPolicy(settings.retry_delays_ms, settings.consumer_max_attempts)
        self._metrics = metrics
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
        self, connection: AbstractConnection, lost: asyncio.Event, stop: asyncio.Event
    ) -> None:
        channel, publishing = await open_confirm_channel(connection, lost)
        await channel.set_qos(prefetch_count=self._prefetch)
        queue = await declare_consumer_topology(channel, self.topology)
        tag = await queue.consume(partial(self._on_message, publishing))
        self._set_consuming(True)
        log.info("consuming", extra={"consumer": self._consumer.name, "queue": queue.name})
        try:
            await wait_for_either(stop, lost)
        finally:
            self._set_consuming(False)
        if lost.is_set():
            # Messages in hand are cancelled with the channel; unacked, they come back.
            log.warning("broker connection lost", extra={"consumer": self._consumer.name})
            return
        self._stopping = True
        await queue.cancel(tag)
        await self._finish_in_flight()

    async def _finish_in_flight(self) -> None:
        try:
            async with asyncio.timeout(self._grace_s):
                await self._idle.wait()
        except TimeoutError:
            log.warning(
                "stopping with messages unfinished; the broker will deliver them again",
                extra={"consumer": self._consumer.name, "in_flight": self._in_flight},
            )

    async def _on_message(self, channel: UnderlayChannel, message: AbstractIncomingMessage) -> None:
        self._track(+1)
        try:
            async with self._slots:
                if self._stopping:  # prefetched, not started: another replica can take it now
                    await give_back(message)
                    return
                await self._process(channel, message)
        finally:
            self._track(-1)

    async def _process(self, channel: UnderlayChannel, message: AbstractIncomingMessage) -> None:
        attempt = attempts_made(message.headers) + 1
        started = time.perf_counter()
        failure = await self._run_handler(message)
        fields = {
            "consumer": self._consumer.name,
            "message_id": message.message_id,
            "routing_key": message.routing_key,
            "attempt": attempt,
            "handler_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        if failure is None:
            await ack(message)
            self._count("handled")
            log.info("message handled", extra=fields)
            return
        verdict = decide(
            failure,
            attempt=attempt,
            policy=self._policy,
            headers=dict(message.headers),
            routing_key=message.routing_key or "",
            now_ms=now_ms(),
        )
        fields |= {"error": failure.error_type, "failure": failure.kind}
        if isinstance(verdict, RetryLater):
            queue, outcome = self.topology.retry_queue(verdict.delay_ms), "retried"
            fields["retry_in_ms"] = verdict.delay_ms
        else:
            queue, outcome = self.topology.dead_queue, "dead-lettered"
            fields["dead_reason"] = verdict.reason
        if await forward(channel, message, queue, verdict.headers):
            self._count(outcome)
            log.warning(f"message {outcome}", extra=fields)

    async def _run_handler(self, message: AbstractIncomingMessage) -> Failure | None:
        try:
            event = self._consumer.parse(message.body)
        except ValidationError as e:
            return Failure("invalid", "ValidationError", summarize_problems(describe_problems(e)))
        started = time.perf_counter()
        failure: Failure | None = None
        try:
            await self._handler(event)
        except PermanentError as e:
            failure = Failure("permanent", type(e).__name__, str(e))
        except Exception as e:  # any other failure may pass: retry it later
            failure = Failure("transient", type(e).__name__, str(e))
            log.debug("handler failed", exc_info=True)
        self._metrics.handler_seconds.labels(
            self._consumer.name, "ok" if failure is None else failure.kind
        ).observe(time.perf_counter() - started)
        return failure

    def _track(self, change: int) -> None:
        self._in_flight += change
        self._metrics.in_flight.labels(self._consumer.name).set(self._in_flight)
        if self._in_flight:
            self._idle.clear()
        else:
            self._idle.set()

    def _set_consuming(self, consuming: bool) -> None:
        self._consuming = consuming
        self._metrics.broker_connected.labels(self._consumer.name).set(int(consuming))

    def _count(self, outcome: str) -> None:
        self._metrics.messages.labels(self._consumer.name, outcome).inc()
