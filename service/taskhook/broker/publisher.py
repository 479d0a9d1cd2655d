"""Publishing to RabbitMQ so that a message is either confirmed by the broker or reported failed.

``AmqpPublisher`` keeps one connection and one confirm-mode channel open, reconnecting by itself
after any outage, and turns every way a publish can fail into ``PublishFailed``. It never waits
longer than its timeout and never queues work it cannot start: when too many publishes are
already waiting for the broker it refuses at once, so the sender is told to retry later.
"""

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import cast

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from aio_pika.exceptions import DeliveryError, PublishError
from aiormq.channel import Channel as UnderlayChannel
from pamqp import commands as spec

from taskhook.broker.reconnect import (
    BROKER_ERRORS,
    CONNECT_TIMEOUT_S,
    close_quietly,
    reconnect_delays,
)
from taskhook.broker.topology import Topology, declare_topology
from taskhook.core.errors import PublishCause, PublishFailed
from taskhook.core.message import OutgoingMessage
from taskhook.metrics import Metrics
from taskhook.settings import Settings

log = logging.getLogger(__name__)

PERSISTENT = 2  # AMQP delivery mode: written to disk (a quorum queue keeps every message anyway)


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
        self._url = url
        self._topology = topology
        self._timeout_s = timeout_s
        self._max_in_flight = max_in_flight
        self._metrics = metrics
        self._in_flight = 0
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._underlay: UnderlayChannel | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False

    @classmethod
    def from_settings(cls, settings: Settings, metrics: Metrics) -> "AmqpPublisher":
        """The publisher the settings describe; it connects only when started."""
        return cls(
            settings.amqp_url.get_secret_value(),
            Topology(settings.exchange),
            timeout_s=settings.publish_timeout_s,
            max_in_flight=settings.max_in_flight,
            metrics=metrics,
        )

    @property
    def ready(self) -> bool:
        """True while the confirm channel is open and the topology is declared."""
        return (
            self._exchange is not None and self._channel is not None and not self._channel.is_closed
        )

    async def start(self) -> None:
        """Start connecting in the background; returns at once, even with the broker down."""
        self._supervisor = asyncio.create_task(self._stay_connected(), name="amqp-supervisor")

    async def close(self) -> None:
        """Stop reconnecting and close the connection."""
        self._closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()  # cuts a connect short, if aio-pika lets it (see below)
            await asyncio.gather(self._supervisor, return_exceptions=True)
        await self._discard()

    async def publish_event(self, message: OutgoingMessage) -> None:
        """Publish to the events exchange; returns only once the broker confirmed it."""
        await self._publish(message, destination="events")

    async def publish_rejected(self, message: OutgoingMessage) -> None:
        """Park a refused delivery in the rejected queue; returns only once confirmed."""
        await self._publish(message, destination="rejected")

    async def _publish(self, message: OutgoingMessage, *, destination: str) -> None:
        if self._in_flight >= self._max_in_flight:
            raise PublishFailed("overloaded", "too many publishes are waiting for the broker")
        underlay, channel = self._underlay, self._channel
        if underlay is None or channel is None or channel.is_closed:
            raise PublishFailed("broker-unavailable", "the broker is not connected")
        # Refused deliveries go through the default exchange, which routes by queue name.
        exchange = self._topology.exchange if destination == "events" else ""
        started = time.perf_counter()
        result = "failed"
        self._in_flight += 1
        self._metrics.publishes_in_flight.inc()
        try:
            await publish_or_fail(underlay, exchange, message, timeout_s=self._timeout_s)
            result = "confirmed"
        finally:
            self._in_flight -= 1
            self._metrics.publishes_in_flight.dec()
            self._metrics.publish_seconds.labels(destination, result).observe(
                time.perf_counter() - started
            )

    async def _stay_connected(self) -> None:
        delays = reconnect_delays()
        while not self._closing:
            try:
                lost = await self._open()
            except Exception as e:  # whatever it was, the next try may work
                delay = next(delays)
                log.warning(
                    "broker connection failed",
                    extra={"error": type(e).__name__, "retry_in_s": delay},
                )
                await asyncio.sleep(delay)
                continue
            if self._closing:  # aio-pika swallowed close()'s cancellation while connecting
                return  # close() discards the connection
            delays = reconnect_delays()
            log.info("broker connected", extra={"exchange": self._topology.exchange})
            await lost.wait()
            log.warning("broker connection lost")
            await self._discard()

    async def _open(self) -> asyncio.Event:
        connection = await aio_pika.connect(
            self._url,
            timeout=CONNECT_TIMEOUT_S,
            client_properties={"connection_name": "taskhook"},
        )
        try:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            exchange = await declare_topology(channel, self._topology)
            # The concrete class: its basic_publish takes `wait` (see publish_confirmed).
            underlay = cast(UnderlayChannel, await channel.get_underlay_channel())
        except BaseException:
            await connection.close()
            raise
        lost = asyncio.Event()
        for closable in (connection, channel):
            closable.close_callbacks.add(lambda *_: lost.set())
        self._connection, self._channel, self._exchange = connection, channel, exchange
        self._underlay = underlay
        self._metrics.broker_connected.set(1)
        return lost

    async def _discard(self) -> None:
        connection = self._connection
        self._connection = self._channel = self._exchange = self._underlay = None
        self._metrics.broker_connected.set(0)
        await close_quietly(connection)


async def publish_confirmed(
    channel: UnderlayChannel, exchange: str, message: OutgoingMessage
) -> None:
    """Publish ``message`` (mandatory, persistent) and return once the broker confirmed it.

    Raises aiormq's ``PublishError`` if it was returned as unroutable, ``DeliveryError`` if
    nacked. aiormq itself, not aio-pika's Exchange: a Message object and its properties cost as
    much again as the publish. ``wait=False`` frees the channel for the next publish as soon as
    this one is queued for the socket, instead of after the socket drained.
    """
    await channel.basic_publish(
        message.body,
        exchange=exchange,
        routing_key=message.routing_key,
        properties=amqp_properties(message),
        mandatory=True,
        wait=False,
    )


async def publish_or_fail(
    channel: UnderlayChannel, exchange: str, message: OutgoingMessage, *, timeout_s: float
) -> None:
    """``publish_confirmed`` within ``timeout_s``; every way it can fail is ``PublishFailed``."""
    cause: PublishCause
    try:
        async with asyncio.timeout(timeout_s):
            await publish_confirmed(channel, exchange, message)
        return
    except TimeoutError:
        cause, detail = "publish-timeout", "the broker did not confirm in time"
    except PublishError:
        cause, detail = "publish-unroutable", "the broker returned the message as unroutable"
    except DeliveryError:
        cause, detail = "publish-nacked", "the broker refused the message"
    except BROKER_ERRORS as e:
        cause, detail = (
            "broker-unavailable",
            f"the broker connection failed ({type(e).__name__})",
        )
    raise PublishFailed(cause, detail)


def amqp_properties(message: OutgoingMessage) -> spec.Basic.Properties:
    """Every AMQP property of ``message``: persistent, and nothing left to the client library."""
    timestamp = (
        datetime.fromtimestamp(message.timestamp_ms / 1000, tz=UTC)
        if message.timestamp_ms is not None
        else None
    )
    return spec.Basic.Properties(
        content_type=message.content_type,
        delivery_mode=PERSISTENT,
        message_id=message.message_id,
        message_type=message.type,
        headers=dict(message.headers),
        timestamp=timestamp,
        app_id="taskhook",
    )
