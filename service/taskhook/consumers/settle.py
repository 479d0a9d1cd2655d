"""Settling one consumed message: ack it, give it back, or move a copy elsewhere first."""

import logging
from dataclasses import replace

from taskhook.broker.amqp import AmqpConnection, Delivered
from taskhook.broker.confirmed import confirm_or_fail
from taskhook.broker.connection import BROKER_ERRORS
from taskhook.broker.received import received
from taskhook.clock import now_ms
from taskhook.core.errors import PublishFailed
from taskhook.core.message import carried_headers, copy_message

log = logging.getLogger(__name__)

FORWARD_TIMEOUT_S = 10.0
DEFAULT_EXCHANGE = ""  # routes by queue name


async def forward(
    forwarding: AmqpConnection,
    message: Delivered,
    queue: str,
    headers: dict[str, str | int],
) -> bool:
    """Publish a copy of ``message`` to ``queue`` on ``forwarding``, confirmed, and only then ack
    the original (on the connection it came on).

    ``forwarding`` is a connection that only publishes (its publishes time out after
    ``FORWARD_TIMEOUT_S``): never the one ``message`` came on, which an alarm would then stop
    reading, acks and all. False if the copy could not be published: the original is then given
    back to its queue.
    """
    original = received(message)
    copy = copy_message(
        original, routing_key=queue, headers={**carried_headers(original), **headers}
    )
    if copy.timestamp_ms is None:  # a copy says when it was made, if not when it was first sent
        copy = replace(copy, timestamp_ms=now_ms())
    try:
        await confirm_or_fail(forwarding, DEFAULT_EXCHANGE, copy)
    except PublishFailed as e:
        log.warning(
            "could not forward a failed message; giving it back to its queue",
            extra={"queue": queue, "error": e.cause},
        )
        await give_back(message)
        return False
    await ack(message)
    return True


async def ack(message: Delivered, *, multiple: bool = False) -> None:
    """Ack ``message`` (and with ``multiple``, every unsettled one delivered before it)."""
    try:
        await message.ack(multiple=multiple)
    except BROKER_ERRORS as e:
        log.warning(
            "ack failed; the broker will deliver the message again",
            extra={"error": type(e).__name__},
        )


async def give_back(message: Delivered) -> None:
    try:
        await message.nack(requeue=True)
    except BROKER_ERRORS as e:
        log.warning(
            "nack failed; the broker will deliver the message again",
            extra={"error": type(e).__name__},
        )
