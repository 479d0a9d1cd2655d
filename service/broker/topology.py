"""The one place that knows the RabbitMQ topology taskhook publishes into.

::

    livepeer.tasks            topic, durable; what consumers bind their queues to
      └─ alternate exchange → livepeer.tasks.unrouted (fanout) → queue livepeer.tasks.unrouted
    default exchange        → queue livepeer.tasks.rejected  (signed deliveries we refused)

Every name derives from the configured exchange name, so a test can own a whole private set.
Queues are quorum queues: replicated in a cluster, and they never lose a confirmed message.
"""

from dataclasses import dataclass

from aio_pika import ExchangeType
from aio_pika.abc import AbstractChannel, AbstractExchange
from pamqp.common import FieldTable

DURABLE_QUEUE_ARGUMENTS: FieldTable = {"x-queue-type": "quorum"}


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
