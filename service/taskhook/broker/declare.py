"""Declaring a topology on the broker: the one module that turns ``Declarations`` into AMQP.

The ingest, the consumers, ``replay`` and ``reconcile`` send the methods ``declaration_methods``
builds on taskhook's own connection (``declare_on``); ``taskhook topology`` and the tests
declare through an aio-pika channel (``declare``).

Every declaration is idempotent, so every process declares what it uses each time it connects.
"""

from typing import TYPE_CHECKING

from aio_pika import ExchangeType
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue
from pamqp import commands as spec
from pamqp.base import Frame
from pamqp.common import FieldTable

from taskhook.broker.topology import Declarations
from taskhook.broker.topology import FieldTable as Arguments

if TYPE_CHECKING:
    from taskhook.broker.amqp import AmqpConnection


async def declare(
    channel: AbstractChannel, declarations: Declarations
) -> tuple[dict[str, AbstractExchange], dict[str, AbstractQueue]]:
    """Declare everything idempotently; the exchanges and queues by name."""
    exchanges = {
        spec.name: await channel.declare_exchange(
            spec.name, ExchangeType(spec.type), durable=True, arguments=_table(spec.arguments)
        )
        for spec in declarations.exchanges
    }
    queues = {
        spec.name: await channel.declare_queue(
            spec.name, durable=True, arguments=_table(spec.arguments)
        )
        for spec in declarations.queues
    }
    for binding in declarations.bindings:
        await queues[binding.queue].bind(
            exchanges[binding.exchange], routing_key=binding.routing_key
        )
    for link in declarations.exchange_bindings:
        await exchanges[link.destination].bind(exchanges[link.source], routing_key=link.routing_key)
    return exchanges, queues


async def declare_on(connection: "AmqpConnection", declarations: Declarations) -> None:
    """Declare everything idempotently on taskhook's own connection."""
    for method in declaration_methods(declarations):
        await connection.call(method)


def declaration_methods(declarations: Declarations) -> list[Frame]:
    """The AMQP methods that declare ``declarations``, in order: exchanges, queues, bindings."""
    methods: list[Frame] = [
        spec.Exchange.Declare(
            exchange=exchange.name,
            exchange_type=exchange.type,
            durable=True,
            arguments=_table(exchange.arguments),
        )
        for exchange in declarations.exchanges
    ]
    methods += [
        spec.Queue.Declare(queue=queue.name, durable=True, arguments=_table(queue.arguments))
        for queue in declarations.queues
    ]
    methods += [
        spec.Queue.Bind(
            queue=binding.queue, exchange=binding.exchange, routing_key=binding.routing_key or ""
        )
        for binding in declarations.bindings
    ]
    methods += [
        spec.Exchange.Bind(
            destination=link.destination, source=link.source, routing_key=link.routing_key
        )
        for link in declarations.exchange_bindings
    ]
    return methods


def _table(arguments: Arguments) -> FieldTable:
    table: FieldTable = {**arguments}
    return table
