"""The bytes of the frames the connection reads or writes in place, without pamqp: the frame
layout, the frames prepared once, the spec's reply codes, and what a frame pamqp refused says.

pamqp encodes and decodes every other frame; these are the ones that come or go once per
publish or delivery, or that must be read when pamqp cannot.
"""

import struct
from typing import Final

from pamqp.constants import FRAME_END, FRAME_HEADER_SIZE
from pamqp.heartbeat import Heartbeat

CHANNEL: Final = 1  # the one channel this connection opens
# The largest frame we take or send (RabbitMQ's default), and the smallest AMQP allows.
FRAME_MAX: Final = 131072
FRAME_MIN_SIZE: Final = 4096
ACK_PREFIX: Final = bytes((1, 0, CHANNEL, 0, 0, 0, 13, 0, 60, 0, 80))  # a method frame: Basic.Ack
ACK_METHOD: Final = bytes((0, 60, 0, 80))  # Basic.Ack, as the method frame's payload begins
NACK_METHOD: Final = bytes((0, 60, 0, 120))  # Basic.Nack (bits: multiple 1, requeue 2)
SETTLE_FRAME_HEAD: Final = bytes((1, 0, CHANNEL, 0, 0, 0, 13))  # a method frame of 13 bytes
METHOD, HEADER, BODY = 1, 2, 3
HEARTBEAT_FRAME: Final = Heartbeat().marshal()
# After we sent Connection.Close, only these matter: the broker's Close-Ok, or its own Close.
CLOSE_OK_FRAME: Final = bytes((1, 0, 0, 0, 0, 0, 4, 0, 10, 0, 51, FRAME_END))
CLOSE_METHOD: Final = bytes((0, 10, 0, 50))
DELIVER_METHOD: Final = (60, 60)
REPLY_SUCCESS: Final = 200
# The spec's codes for what we close a connection with when the broker breaks the protocol.
FRAME_ERROR, SYNTAX_ERROR, CHANNEL_ERROR, UNEXPECTED_FRAME = 501, 502, 504, 505


def oversized(received: bytearray, start: int, size: int, frame_max: int) -> str:
    """What a frame of ``size`` bytes at ``start``, over ``frame_max``, is: for the close."""
    if start == 0 and received.startswith(b"AMQP"):  # a server's answer to a version it lacks
        version = ".".join(str(part) for part in received[5:8])
        return f"a protocol header for AMQP {version}: it does not speak AMQP 0-9-1"
    return f"a frame of {size} bytes, over the frame_max of {frame_max}"


def unreadable_body_size(received: bytearray, start: int, stop: int) -> int | None:
    """The body size a content header frame pamqp could not read announces, if it is long
    enough to say; None if not."""
    payload = start + FRAME_HEADER_SIZE
    if stop - payload < 13:
        return None
    size: int = struct.unpack_from(">Q", received, payload + 4)[0]
    return size


def unreadable_delivery_tag(received: bytearray, start: int, stop: int) -> int | None:
    """The delivery tag of a method frame pamqp could not read, if it is a Basic.Deliver long
    enough to say; None for any other frame."""
    payload = start + FRAME_HEADER_SIZE
    if received[start] != METHOD or stop - payload < 5:
        return None
    if struct.unpack_from(">HH", received, payload) != DELIVER_METHOD:
        return None
    tag_at = payload + 5 + received[payload + 4]  # past the consumer tag (a short string)
    if tag_at + 8 > stop - 1:
        return None
    tag: int = struct.unpack_from(">Q", received, tag_at)[0]
    return tag


def frame_name(frame: object) -> str:
    return str(getattr(frame, "name", type(frame).__name__))
