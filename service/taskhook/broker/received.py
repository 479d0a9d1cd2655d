"""A message aio-pika delivered, as the pure core sees it: ``ReceivedMessage``."""

from aio_pika.abc import AbstractIncomingMessage

from taskhook.core.message import ReceivedMessage


def received(message: AbstractIncomingMessage) -> ReceivedMessage:
    """``message``'s body and properties, free of aio-pika's types."""
    return ReceivedMessage(
        body=message.body,
        routing_key=message.routing_key or "",
        message_id=message.message_id,
        type=message.type,
        headers=dict(message.headers),
        timestamp_ms=round(message.timestamp.timestamp() * 1000) if message.timestamp else None,
        content_type=message.content_type,
        app_id=message.app_id,
    )
