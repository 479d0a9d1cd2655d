"""Settling one consumed message: ack it, give it back, or move a copy elsewhere first."""

import asyncio
import logging
from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from aio_pika.exceptions import DeliveryError, PublishError

from taskhook.broker.reconnect import BROKER_ERRORS
from taskhook.core.retry import own_headers

log = logging.getLogger(__name__)

FORWARD_TIMEOUT_S = 10.0


async def forward(
    channel: AbstractChannel,
    message: AbstractIncomingMessage,
    queue: str,
    headers: dict[str, str | int],
) -> bool:
    """Publish a copy of ``message`` to ``queue``, confirmed, and only then ack the original.

    False if the copy could not be published: the original is then given back to its queue.
    """
    try:
        async with asyncio.timeout(FORWARD_TIMEOUT_S):
            await channel.default_exchange.publish(
                copy_with(message, headers), routing_key=queue, mandatory=True
            )
    except (*BROKER_ERRORS, DeliveryError, PublishError, TimeoutError) as e:
        log.warning(
            "could not forward a failed message; giving it back to its queue",
            extra={"queue": queue, "error": type(e).__name__},
        )
        await give_back(message)
        return False
    await ack(message)
    return True


def copy_with(message: AbstractIncomingMessage, headers: dict[str, str | int]) -> aio_pika.Message:
    return aio_pika.Message(
        message.body,
        headers={**own_headers(message.headers), **headers},
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        type=message.type,
        timestamp=message.timestamp or datetime.now(tz=UTC),
        app_id=message.app_id,
    )


async def ack(message: AbstractIncomingMessage) -> None:
    try:
        await message.ack()
    except BROKER_ERRORS as e:
        log.warning(
            "ack failed; the broker will deliver the message again",
            extra={"error": type(e).__name__},
        )


async def give_back(message: AbstractIncomingMessage) -> None:
    try:
        await message.nack(requeue=True)
    except BROKER_ERRORS as e:
        log.warning(
            "nack failed; the broker will deliver the message again",
            extra={"error": type(e).__name__},
        )
