"""The one place that knows the RabbitMQ topology taskhook publishes into.

::

    livepeer.tasks            topic, durable; what consumers bind their queues to
      └─ alternate exchange → livepeer.tasks.unrouted (fanout) → queue livepeer.tasks.unrouted
    default exchange        → queue livepeer.tasks.rejected  (signed deliveries we refused)

Every name derives from the configured exchange name, so a test can own a whole private set.
Queues are quorum queues: replicated in a cluster, and they never lose a confirmed message.

Each consumer ``<name>`` owns, bound to the events exchange with its routing patterns::

    taskhook.<name>                  its queue; a message redelivered too often → .dead
    taskhook.<name>.retry.<delay>ms  one per retry delay: message TTL, then back to its queue
    taskhook.<name>.dead             what it could not handle, with headers that say why

One queue per delay keeps every message in it expiring in arrival order, so a long delay never
holds back a short one, and the delay in the name lets a changed setting declare new queues
instead of clashing with the arguments of the old ones.
"""

import re
from dataclasses import dataclass

from aio_pika import ExchangeType
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue
from pamqp.common import FieldTable

DURABLE_QUEUE_ARGUMENTS: FieldTable = {"x-queue-type": "quorum"}
CONSUMER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# A message that kills its consumer every time (so it is never settled) is parked after this
# many deliveries instead of crashing the consumer forever. Retries do not count: each retry
# is a new message.
DELIVERY_LIMIT = 10
# Dead-lettering that waits for the target queue's confirm: a retry is never lost in transit.
AT_LEAST_ONCE: FieldTable = {
    "x-dead-letter-strategy": "at-least-once",
    "x-overflow": "reject-publish",
}


@dataclass(frozen=True, slots=True)
class Topology:
    exchange: str

    @property
    def unrouted_exchange(self) -> str:
        return f"{self.exchange}.unrouted"

    @property
    def unrouted_queue(self) -> str:
        return f"{self.exchange}.unrouted"

    @property
    def rejected_queue(self) -> str:
        return f"{self.exchange}.rejected"


async def declare_topology(channel: AbstractChannel, topology: Topology) -> AbstractExchange:
    """Declare everything idempotently and return the events exchange.

    A message no consumer queue is bound for goes to the alternate exchange instead of vanishing.
    """
    unrouted_exchange = await channel.declare_exchange(
        topology.unrouted_exchange, ExchangeType.FANOUT, durable=True
    )
    unrouted = await channel.declare_queue(
        topology.unrouted_queue, durable=True, arguments=DURABLE_QUEUE_ARGUMENTS
    )
    await unrouted.bind(unrouted_exchange)
    await channel.declare_queue(
        topology.rejected_queue, durable=True, arguments=DURABLE_QUEUE_ARGUMENTS
    )
    return await channel.declare_exchange(
        topology.exchange,
        ExchangeType.TOPIC,
        durable=True,
        arguments={"alternate-exchange": topology.unrouted_exchange},
    )


@dataclass(frozen=True, slots=True)
class ConsumerTopology:
    """The queues of one consumer, and what they are bound to."""

    exchange: str
    name: str
    bindings: tuple[str, ...]
    retry_delays_ms: tuple[int, ...]

    def __post_init__(self) -> None:
        if not CONSUMER_NAME.match(self.name):
            raise ValueError(f"consumer name {self.name!r} must match {CONSUMER_NAME.pattern}")

    @property
    def queue(self) -> str:
        return f"taskhook.{self.name}"

    @property
    def dead_queue(self) -> str:
        return f"taskhook.{self.name}.dead"

    def retry_queue(self, delay_ms: int) -> str:
        return f"taskhook.{self.name}.retry.{delay_ms}ms"


async def declare_consumer_topology(
    channel: AbstractChannel, topology: ConsumerTopology
) -> AbstractQueue:
    """Declare the events exchange and the consumer's queues idempotently; return its queue."""
    exchange = await declare_topology(channel, Topology(topology.exchange))
    await channel.declare_queue(
        topology.dead_queue, durable=True, arguments=DURABLE_QUEUE_ARGUMENTS
    )
    queue = await _declare_dead_lettering(
        channel, topology.queue, to=topology.dead_queue, **{"x-delivery-limit": DELIVERY_LIMIT}
    )
    for delay_ms in topology.retry_delays_ms:
        await _declare_dead_lettering(
            channel,
            topology.retry_queue(delay_ms),
            to=topology.queue,
            **{"x-message-ttl": delay_ms},
        )
    for pattern in topology.bindings:
        await queue.bind(exchange, routing_key=pattern)
    return queue


async def _declare_dead_lettering(
    channel: AbstractChannel, name: str, *, to: str, **arguments: int
) -> AbstractQueue:
    """A quorum queue whose dead letters go, confirmed, to the queue ``to``."""
    return await channel.declare_queue(
        name,
        durable=True,
        arguments={
            **DURABLE_QUEUE_ARGUMENTS,
            **AT_LEAST_ONCE,
            **arguments,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": to,
        },
    )
