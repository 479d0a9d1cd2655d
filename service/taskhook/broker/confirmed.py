"""The one way taskhook publishes: persistent, mandatory, and awaited until the broker confirms.

The ingest, the consumers' retry and dead-letter forwarding, ``taskhook replay`` and ``taskhook
reconcile`` all publish with ``confirm_or_fail``, on taskhook's own connection
(``taskhook.broker.amqp``), so a message is either confirmed or reported as ``PublishFailed``
with a cause the HTTP layer and the tools know how to word. Its AMQP properties are those
``amqp_properties`` gives, written by ``MessageProperties`` straight from the message.
"""

import struct
from datetime import UTC, datetime
from typing import cast

from pamqp import commands as spec
from pamqp import encode
from pamqp.common import FieldTable, FieldValue

from taskhook.broker.amqp import AmqpConnection, ConnectionLost, Nacked, Returned, WriteBlocked
from taskhook.core.errors import PublishCause, PublishFailed
from taskhook.core.message import PERSISTENT, OutgoingMessage


async def confirm_or_fail(
    connection: AmqpConnection, exchange: str, message: OutgoingMessage
) -> None:
    """Publish ``message`` (mandatory, persistent) on ``connection`` and return once the broker
    confirmed it, within the connection's publish timeout; every failure is ``PublishFailed``.

    A cancelled caller gives up its confirm, not the publish: the message may still arrive.
    """
    cause: PublishCause
    try:
        properties = MessageProperties(message)
        await connection.publish(exchange, message.routing_key, properties, message.body)
        return
    except TimeoutError:
        cause, detail = "publish-timeout", "the broker did not confirm in time"
    except Returned:
        cause, detail = "publish-unroutable", "the broker returned the message as unroutable"
    except Nacked:
        cause, detail = "publish-nacked", "the broker refused the message"
    except WriteBlocked:  # the broker stopped reading us: as good as an alarm, for the sender
        cause, detail = "broker-blocked", "the broker is not reading what taskhook sends"
    except ConnectionLost as e:
        if e.refused is None:  # a heartbeat missed, a socket closed: nobody said no
            cause, detail = "publish-interrupted", "the broker connection closed before the confirm"
        else:
            code = e.refused[0]
            cause, detail = "broker-unavailable", f"the broker closed the connection (code {code})"
    raise PublishFailed(cause, detail)


def amqp_properties(message: OutgoingMessage) -> spec.Basic.Properties:
    """Every AMQP property of ``message``, as pamqp's object: persistent, and nothing left to
    the client library. What a publish writes (``MessageProperties``) is these, marshalled by
    pamqp: the reference the unit tests hold it to, and what a reader inspects."""
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


_PROPERTIES = spec.Basic.Properties
_FLAGS = struct.Struct(">H")  # fourteen properties: one word of flags, never a continuation
_KEY_LENGTH = struct.Struct(">B")
_TEXT_LENGTH = struct.Struct(">I")
_MAX_KEY_BYTES = 128  # pamqp cuts a longer key (with a warning): left to pamqp


def _text_table(table: dict[str, FieldValue]) -> bytes:
    """A field table as pamqp encodes it, written directly when every value is text."""
    if not table or not all(type(value) is str for value in table.values()):
        return encode.field_table(table)
    data = []
    for key, value in sorted(table.items()):
        head = _HEADS.get(key) or _head(key)
        if head is None:
            return encode.field_table(table)
        text = cast(str, value).encode()
        data.append(head + _TEXT_LENGTH.pack(len(text)) + text)
    output = b"".join(data)
    return _TEXT_LENGTH.pack(len(output)) + output


# A header's name as it starts its entry (length, name, "S" for text): the names are few.
_HEADS: dict[str, bytes] = {}
_MAX_HEADS = 64


def _head(key: str) -> bytes | None:
    name = key.encode()
    if len(name) > _MAX_KEY_BYTES:
        return None
    head = _KEY_LENGTH.pack(len(name)) + name + b"S"
    if len(_HEADS) < _MAX_HEADS:
        _HEADS[key] = head
    return head


# The flags of the properties an OutgoingMessage can carry, and the ones it always has.
_FLAG = {name: _PROPERTIES.flags[name] for name in _PROPERTIES.__slots__}
_HEADERS_AND_PERSISTENT = _FLAG["headers"] | _FLAG["delivery_mode"]
_PERSISTENT_BYTE = bytes((PERSISTENT,))
_SECONDS = struct.Struct(">Q")
_MAX_SHORT_BYTES = 255


class MessageProperties:
    """The AMQP properties of one ``OutgoingMessage``, marshalled straight from it.

    The bytes are those pamqp writes for ``amqp_properties(message)`` (a unit test holds them
    equal for every kind of message taskhook publishes and a table of edge cases), without
    building pamqp's object and a ``datetime`` first: pamqp's ``marshal`` looks each of the
    fourteen properties and its type up by name, and encodes each header through a chain of
    type checks, about 15 µs a message, as much as the rest of a publish; this takes about 4.
    Headers whose values are all text are written directly, any other table by pamqp.
    """

    __slots__ = ("_message", "message_id")

    def __init__(self, message: OutgoingMessage) -> None:
        self._message = message
        self.message_id: str | None = message.message_id

    def marshal(self) -> bytes:
        message = self._message
        flags = _HEADERS_AND_PERSISTENT
        head = b""
        if message.content_type:
            flags |= _FLAG["content_type"]
            head = _short(message.content_type)
        parts = [head, _text_table(cast(FieldTable, dict(message.headers))), _PERSISTENT_BYTE]
        if message.message_id:
            flags |= _FLAG["message_id"]
            parts.append(_short(message.message_id))
        if message.timestamp_ms is not None:
            flags |= _FLAG["timestamp"]
            parts.append(_SECONDS.pack(int(message.timestamp_ms / 1000)))
        if message.type:
            flags |= _FLAG["message_type"]
            parts.append(_short(message.type))
        if message.app_id:
            flags |= _FLAG["app_id"]
            parts.append(_short(message.app_id))
        return _FLAGS.pack(flags) + b"".join(parts)


def _short(text: str) -> bytes:
    """A short string as pamqp writes it (one byte of length); a longer one is pamqp's to
    refuse as it would."""
    data = text.encode()
    if len(data) > _MAX_SHORT_BYTES:
        return encode.short_string(text)
    return _KEY_LENGTH.pack(len(data)) + data
