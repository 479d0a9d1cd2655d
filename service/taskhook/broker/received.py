"""A message the broker delivered, as the pure core sees it: ``ReceivedMessage``."""

from datetime import datetime

from aio_pika.abc import AbstractIncomingMessage

from taskhook.broker.amqp import Delivered
from taskhook.core.message import ReceivedMessage


def received(message: AbstractIncomingMessage | Delivered) -> ReceivedMessage:
    """``message``'s body and properties, free of any client library's types: one a consumer
    took on taskhook's connection, or one a tool took through aio-pika."""
    if isinstance(message, Delivered):
        properties = message.properties
        return ReceivedMessage(
            body=message.body,
            routing_key=message.routing_key,
            message_id=properties.message_id,
            type=properties.message_type,
            headers=dict(message.headers),
            timestamp_ms=_ms(properties.timestamp),
            content_type=properties.content_type,
            app_id=properties.app_id,
        )
    return ReceivedMessage(
        body=message.body,
        routing_key=message.routing_key or "",
        message_id=message.message_id,
        type=message.type,
        headers=dict(message.headers),
        timestamp_ms=_ms(message.timestamp),
        content_type=message.content_type,
        app_id=message.app_id,
    )


def _ms(moment: datetime | None) -> int | None:
    return round(moment.timestamp() * 1000) if moment else None
