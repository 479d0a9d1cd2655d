"""taskhook's own AMQP connection: one channel, publishes confirmed, deliveries acknowledged.

The ingest publishes on it, and the consumers consume (and forward retries) on it; the operator
tools, which run once, use aio-pika. Why not aiormq's channel, as aio-pika uses it: measured
(docs/performance.md), aiormq spends about 100 µs of CPU on each confirmed publish, and more
with more publishes waiting (a lock, a timeout scope and a queue hop to a writer task per
publish; an ack handler that walks every pending confirm). At the ingest's rate that was a third
of a request. This connection spends about 24 µs, the same at 16 or 64 in flight, because:

- every publish made in one turn of the event loop leaves in one socket write;
- the method frame is encoded once per exchange and routing key;
- confirms wait in a queue in delivery-tag order: an ack pops from its front, one timer expires
  what waited too long, and nothing per publish is armed or cancelled.

What it does not hand-write: every frame is encoded and decoded by pamqp (aiormq's own codec),
except that an ack, the one frame that arrives once per publish, is read in place.

Deliveries are read off the same buffer, handed to the consumer's callback as they complete,
without a task or a queue in between, and acknowledged by frames that leave with the next write.

The contract: ``publish`` returns a future that resolves once the broker confirmed the message,
or fails with ``Returned`` (mandatory and unroutable), ``Nacked``, ``TimeoutError`` (no confirm
within the connection's publish timeout), or ``ConnectionLost`` (the connection or its channel
ended first; ``refused`` says when the broker closed it, and why); it raises ``WriteBlocked``
at once while the socket takes no more writes. Nothing resolves twice, and no future is left
waiting once the connection is gone. What of AMQP 0-9-1 it implements, and what it deliberately
does not: docs/amqp.md.

Where it lives: ``protocol`` (the connection, ``AmqpConnection``), ``opening`` (``open_amqp``: the
handshake, credentials, frame size, heartbeat and TLS), ``values`` (its errors, a delivery, the
waiters) and ``wire`` (the frame bytes it reads and writes in place). Import from here: these
names are the package's interface.
"""

from taskhook.broker.amqp.opening import open_amqp, tls_context
from taskhook.broker.amqp.protocol import AmqpConnection
from taskhook.broker.amqp.values import (
    ConnectionLost,
    Delivered,
    Nacked,
    OpeningRefused,
    PublishProperties,
    Returned,
    WriteBlocked,
)
from taskhook.broker.amqp.wire import CHANNEL

__all__ = [
    "CHANNEL",
    "AmqpConnection",
    "ConnectionLost",
    "Delivered",
    "Nacked",
    "OpeningRefused",
    "PublishProperties",
    "Returned",
    "WriteBlocked",
    "open_amqp",
    "tls_context",
]
