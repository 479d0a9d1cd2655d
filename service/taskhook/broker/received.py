"""A message the broker delivered, as the pure core sees it: ``ReceivedMessage``."""

from aio_pika.abc import AbstractIncomingMessage

from taskhook.broker.amqp import Delivered
from taskhook.core.message import ReceivedMessage


def received(message: AbstractIncomingMessage | Delivered) -> ReceivedMessage:
    """``message``'s body and properties, free of any client library's types: one a consumer
    took on taskhook's connection, or one a tool took through aio-pika."""
    if isinstance(message, Delivered):
        p = message.properties
        fields = (p.message_id, p.message_type, p.timestamp, p.content_type, p.app_id)
    else:
        m = message
        fields = (m.message_id, m.type, m.timestamp, m.content_type, m.app_id)
    message_id, kind, stamp, content_type, app_id = fields
    return ReceivedMessage(
        body=message.body,
        routing_key=message.routing_key or "",
        message_id=message_id,
        type=kind,
        headers=dict(message.headers),
        timestamp_ms=round(stamp.timestamp() * 1000) if stamp else None,
        content_type=content_type,
        app_id=app_id,
    )
