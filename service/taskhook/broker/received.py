"""A message the broker delivered, as the pure core sees it (``ReceivedMessage``), and as a
consumer settles it (``Delivered``)."""

from aio_pika.abc import AbstractIncomingMessage
from aiormq.abc import DeliveredMessage
from pamqp.commands import Basic

from taskhook.core.message import ReceivedMessage


def received(message: "AbstractIncomingMessage | Delivered") -> ReceivedMessage:
    """``message``'s body and properties, free of any client library's types."""
    if isinstance(message, Delivered):
        return message.received()
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


class Delivered:
    """A message delivered to a consumer on an aiormq channel: what handling and settling it
    take, and nothing more.

    Why not aio-pika's ``IncomingMessage``, which the tools use: a consumer builds one per
    message, copying every property through a guarded ``__setattr__``, and runs its callback
    in a task of its own on top of aiormq's; that was a fifth of the toolkit's cost a message.
    """

    __slots__ = ("_message", "body", "delivery_tag", "headers", "message_id", "routing_key")

    def __init__(self, message: DeliveredMessage) -> None:
        delivery = message.delivery
        assert isinstance(delivery, Basic.Deliver)  # a consumer's: Basic.Get is not used here
        self._message = message
        self.body = message.body
        properties = message.header.properties
        self.headers: dict[str, object] = dict(properties.headers or {})
        self.message_id = properties.message_id
        self.routing_key: str = delivery.routing_key or ""
        self.delivery_tag: int = delivery.delivery_tag or 0

    async def ack(self, *, multiple: bool = False) -> None:
        """Acknowledge it (with ``multiple``, every unsettled one delivered before it too)."""
        await self._message.channel.basic_ack(self.delivery_tag, multiple=multiple)

    async def nack(self, *, requeue: bool = True) -> None:
        """Give it back to its queue (``requeue``), or drop it."""
        await self._message.channel.basic_nack(self.delivery_tag, requeue=requeue)

    def received(self) -> ReceivedMessage:
        properties = self._message.header.properties
        stamp = properties.timestamp
        return ReceivedMessage(
            body=self.body,
            routing_key=self.routing_key,
            message_id=self.message_id,
            type=properties.message_type,
            headers=dict(self.headers),
            timestamp_ms=round(stamp.timestamp() * 1000) if stamp else None,
            content_type=properties.content_type,
            app_id=properties.app_id,
        )
