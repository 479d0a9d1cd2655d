"""The one way taskhook publishes: persistent, mandatory, and awaited until the broker confirms.

Every publish goes through one of the two functions here, so a message is either confirmed or
reported as ``PublishFailed`` with a cause the HTTP layer and the tools know how to word, and its
AMQP properties come from ``amqp_properties`` alone:

- ``confirm_or_fail``, on taskhook's own connection (``taskhook.broker.amqp``): the ingest, and
  the consumers' retry and dead-letter forwarding;
- ``publish_or_fail``, on an aiormq channel: ``taskhook replay`` and ``taskhook reconcile``,
  which run once, through aio-pika.
"""

import asyncio
from datetime import UTC, datetime
from typing import cast

from aio_pika.abc import AbstractChannel, AbstractConnection
from aio_pika.exceptions import DeliveryError, PublishError
from aiormq.channel import Channel as UnderlayChannel
from pamqp import commands as spec
from pamqp.common import FieldTable

from taskhook.broker.amqp import AmqpConnection, ConnectionLost, Nacked, Returned
from taskhook.broker.connection import BROKER_ERRORS
from taskhook.core.errors import PublishCause, PublishFailed
from taskhook.core.message import PERSISTENT, OutgoingMessage


async def publish_confirmed(
    channel: UnderlayChannel,
    exchange: str,
    message: OutgoingMessage,
    *,
    timeout_s: float | None = None,
) -> None:
    """Publish ``message`` (mandatory, persistent) and return once the broker confirmed it.

    Raises aiormq's ``PublishError`` if it was returned as unroutable, ``DeliveryError`` if
    nacked. aiormq itself, not aio-pika's Exchange: a Message object and its properties cost as
    much again as the publish. ``wait=False`` frees the channel for the next publish as soon as
    this one is queued for the socket, instead of after the socket drained. Past ``timeout_s``
    it raises ``TimeoutError``: aiormq's own timer, which also takes back a publish that never
    reached the socket, so no second timer is armed around it.
    """
    await channel.basic_publish(
        message.body,
        exchange=exchange,
        routing_key=message.routing_key,
        properties=amqp_properties(message),
        mandatory=True,
        wait=False,
        timeout=timeout_s,
    )


async def confirm_or_fail(
    connection: AmqpConnection, exchange: str, message: OutgoingMessage
) -> None:
    """Publish ``message`` (mandatory, persistent) on ``connection`` and return once the broker
    confirmed it, within the connection's publish timeout; every failure is ``PublishFailed``.

    A cancelled caller gives up its confirm, not the publish: the message may still arrive.
    """
    cause: PublishCause
    try:
        properties = amqp_properties(message)
        await connection.publish(exchange, message.routing_key, properties, message.body)
        return
    except TimeoutError:
        cause, detail = "publish-timeout", "the broker did not confirm in time"
    except Returned:
        cause, detail = "publish-unroutable", "the broker returned the message as unroutable"
    except Nacked:
        cause, detail = "publish-nacked", "the broker refused the message"
    except ConnectionLost as e:
        if e.refused is None:  # a heartbeat missed, a socket closed: nobody said no
            cause, detail = "publish-interrupted", "the broker connection closed before the confirm"
        else:
            code = e.refused[0]
            cause, detail = "broker-unavailable", f"the broker closed the connection (code {code})"
    raise PublishFailed(cause, detail)


async def publish_or_fail(
    channel: UnderlayChannel, exchange: str, message: OutgoingMessage, *, timeout_s: float
) -> None:
    """``publish_confirmed`` within ``timeout_s``; every way it can fail is ``PublishFailed``."""
    cause: PublishCause
    try:
        await publish_confirmed(channel, exchange, message, timeout_s=timeout_s)
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
    except asyncio.CancelledError:
        # aiormq cancels the confirms still awaited when it gives up on a connection (a missed
        # heartbeat, a close): that is a failed publish, not a cancelled request, and the sender
        # must get its 503. Only a cancellation of this task itself goes on as one.
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        cause, detail = "publish-interrupted", "the broker connection closed before the confirm"
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
        headers=cast(FieldTable, dict(message.headers)),
        timestamp=timestamp,
        app_id=message.app_id,
    )


async def open_confirm_channel(
    connection: AbstractConnection, lost: asyncio.Event | None = None
) -> tuple[AbstractChannel, UnderlayChannel]:
    """A channel on which every publish is confirmed and an unroutable one is returned, and its
    aiormq side, which ``publish_or_fail`` takes. ``lost`` is set if the channel closes."""
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    if lost is not None:
        channel.close_callbacks.add(lambda *_: lost.set())
    # The concrete class: its basic_publish takes `wait` (see publish_confirmed).
    return channel, cast(UnderlayChannel, await channel.get_underlay_channel())
