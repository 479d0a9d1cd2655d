"""Publishing to RabbitMQ so that a message is either confirmed by the broker or reported failed.

``AmqpPublisher`` keeps one of taskhook's own connections open through the connection
supervisor, and turns every way a publish can fail into ``PublishFailed``. It never waits longer
than its timeout and never queues work it cannot start: when too many publishes are already
waiting for the broker it refuses at once, so the sender is told to retry later.
"""

import asyncio
import logging
import time
from dataclasses import replace

from taskhook import tracing
from taskhook.broker.amqp import AmqpConnection
from taskhook.broker.confirmed import confirm_or_fail
from taskhook.broker.connection import Supervisor, wait_for_either
from taskhook.broker.declare import declare_on
from taskhook.broker.topology import Topology
from taskhook.core.errors import PublishFailed
from taskhook.core.message import OutgoingMessage
from taskhook.metrics import Metrics

log = logging.getLogger(__name__)

CONNECTION_NAME = "taskhook"
# Publishes failed in a row (timed out or nacked), nothing confirmed between them, after which
# the connection is dropped and another made (to the next node, if there are several). Two
# faults look like this and heal no other way: a half-open connection (a relay that stopped
# forwarding, no FIN, no RST) times out every publish while the heartbeat has not noticed yet;
# and a channel opened on a surviving node while a quorum queue's leader was still being
# re-elected keeps sending to the dead leader, every publish nacked, until that node is back.
REOPEN_AFTER_FAILURES = 3


class AmqpPublisher:
    """The real publisher: persistent messages, publisher confirms, returns raised, a timeout."""

    def __init__(
        self,
        url: str,
        topology: Topology,
        *,
        timeout_s: float,
        max_in_flight: int,
        metrics: Metrics,
    ) -> None:
        self._topology = topology
        self._timeout_s = timeout_s
        self._max_in_flight = max_in_flight
        self._metrics = metrics
        self._in_flight = 0
        # Any failure, not only the broker's: until the channel is back, every publish is a 503.
        self._supervisor = Supervisor(
            url,
            publish_timeout_s=timeout_s,
            name=CONNECTION_NAME,
            fields={"exchange": topology.exchange},
            retry_on=(Exception,),
        )
        self._connection: AmqpConnection | None = None
        self._running: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._lost: asyncio.Event | None = None  # set to drop the connection in use
        self._was_blocked = False
        self._tracer = tracing.tracer()
        self._failures_in_a_row = 0

    @property
    def ready(self) -> bool:
        """True while the connection is open, the topology declared, and the broker takes
        publishes: a replica whose broker blocks it is better left out of the balancer."""
        connection = self._connection
        return connection is not None and not connection.is_closed and not self.blocked

    @property
    def blocked(self) -> bool:
        """True while the broker blocks publishing (a memory or disk alarm)."""
        connection = self._connection
        blocked = connection is not None and connection.blocked
        if blocked != self._was_blocked:  # noticed here: on a publish, or a readiness check
            self._was_blocked = blocked
            self._metrics.broker_blocked.set(int(blocked))
            log.warning(
                "broker blocks publishing" if blocked else "broker takes publishes again",
                extra={"exchange": self._topology.exchange},
            )
        return blocked

    async def start(self) -> None:
        """Start connecting in the background; returns at once, even with the broker down."""
        self._running = asyncio.create_task(
            self._supervisor.run(self._session, self._stop), name="amqp-publisher"
        )

    async def close(self) -> None:
        """Stop reconnecting and close the connection."""
        self._stop.set()
        if self._running is not None:
            self._running.cancel()  # cuts a connect short
            await asyncio.gather(self._running, return_exceptions=True)
        self._forget_connection()

    async def publish_event(self, message: OutgoingMessage) -> None:
        """Publish to the events exchange; returns only once the broker confirmed it."""
        exchange = self._topology.publish_exchange
        if self._tracer is None:
            await self._publish(message, exchange=exchange, destination="events")
        else:
            await self._publish_traced(message, exchange)
        for rule in message.redacted:  # counted once published: what consumers were spared
            self._metrics.redacted(rule)

    async def publish_rejected(self, message: OutgoingMessage) -> None:
        """Park a refused delivery in the rejected queue; returns only once confirmed."""
        # The default exchange routes by queue name: the message's routing key.
        await self._publish(message, exchange="", destination="rejected")

    async def _publish(self, message: OutgoingMessage, *, exchange: str, destination: str) -> None:
        if self._in_flight >= self._max_in_flight:
            raise PublishFailed("overloaded", "too many publishes are waiting for the broker")
        connection = self._connection
        if self.blocked:  # it would only hold the publish until the timeout: say so at once
            raise PublishFailed("broker-blocked", "the broker is refusing publishes (an alarm)")
        if connection is None or not self.ready:
            raise PublishFailed("broker-unavailable", "the broker is not connected")
        started = time.perf_counter()
        result = "failed"
        session = self._lost  # the connection this publish went out on
        self._in_flight += 1
        self._metrics.publishes_in_flight.inc()
        try:
            await confirm_or_fail(connection, exchange, message)
            result = "confirmed"
            self._failures_in_a_row = 0
        except PublishFailed as e:
            if e.cause in ("publish-timeout", "publish-nacked"):
                self._failed(e.cause, session)
            raise
        finally:
            self._in_flight -= 1
            self._metrics.publishes_in_flight.dec()
            self._metrics.published(destination, result, time.perf_counter() - started)

    async def _publish_traced(self, message: OutgoingMessage, through: str) -> None:
        """The publish and its confirm in a producer span, whose context travels in the
        message's headers to every consumer. Named for the events exchange, where consumers
        bind, even when the message goes ``through`` the archive's front to get there."""
        exchange = self._topology.exchange
        attributes = {
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "send",
            "messaging.operation.name": "publish",
            "messaging.destination.name": exchange,
            "messaging.rabbitmq.destination.routing_key": message.routing_key,
            "messaging.message.id": message.message_id,
            "messaging.message.body.size": len(message.body),
        }
        with tracing.span(self._tracer, f"send {exchange}", kind="PRODUCER", attributes=attributes):
            carried = replace(message, headers=tracing.inject(message.headers))
            await self._publish(carried, exchange=through, destination="events")

    def _failed(self, cause: str, session: asyncio.Event | None) -> None:
        """Several publishes in a row not confirmed: drop the connection and make another (to
        the next node, if there are several); not ready meanwhile.

        Only failures on the connection still in use count (a publish of the one before may
        time out after the reconnect), and none while the broker blocks publishing: a new
        connection would be blocked just the same.
        """
        lost = self._lost
        if session is not lost or lost is None or lost.is_set() or self.blocked:
            return
        self._failures_in_a_row += 1
        if self._failures_in_a_row < REOPEN_AFTER_FAILURES:
            return
        log.warning(
            "broker failing publishes, reconnecting",
            extra={
                "exchange": self._topology.exchange,
                "cause": cause,
                "failures": self._failures_in_a_row,
            },
        )
        lost.set()

    async def _session(
        self, connection: AmqpConnection, lost: asyncio.Event, stop: asyncio.Event
    ) -> None:
        self._lost, self._failures_in_a_row = lost, 0
        await declare_on(connection, self._topology.declarations())
        self._connection = connection
        self._metrics.broker_connected.set(1)
        log.info("broker connected", extra={"exchange": self._topology.exchange})
        try:
            await wait_for_either(lost, stop)
        finally:
            self._forget_connection()
        if lost.is_set():
            reason = connection.reason
            log.warning(
                "broker connection lost",
                extra={"exchange": self._topology.exchange, "detail": str(reason)},
            )

    def _forget_connection(self) -> None:
        self._connection = None
        self._lost = None
        self._metrics.broker_connected.set(0)


class ConnectionPublisher:
    """Publishes on a connection its owner opened and will close: for a command that runs once
    (``taskhook reconcile``), where a broker that goes away ends the run rather than being
    waited for. Each publish returns once confirmed and raises ``PublishFailed`` otherwise."""

    def __init__(self, connection: AmqpConnection, topology: Topology) -> None:
        self._connection = connection
        self._topology = topology

    @property
    def ready(self) -> bool:
        return not self._connection.is_closed

    @property
    def blocked(self) -> bool:
        return self._connection.blocked

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish_event(self, message: OutgoingMessage) -> None:
        await confirm_or_fail(self._connection, self._topology.publish_exchange, message)

    async def publish_rejected(self, message: OutgoingMessage) -> None:
        await confirm_or_fail(self._connection, "", message)
