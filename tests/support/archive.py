"""The archive from a test: a topology with one, events published into it, what it holds."""

from typing import Any

from aio_pika.abc import AbstractChannel

from taskhook.broker.confirmed import confirm_or_fail
from taskhook.broker.connection import connect_amqp
from taskhook.broker.declare import declare
from taskhook.broker.topology import ArchiveRetention, ConsumerTopology, Topology
from taskhook.clock import now_ms
from taskhook.core.delivery import validate_delivery
from taskhook.core.message import OutgoingMessage, event_message
from taskhook.history.archive import ArchivedMessage, ArchiveReader
from tests.support.broker import AMQP_URL

RETENTION = ArchiveRetention(max_age_s=7 * 86_400, max_bytes=1_000_000_000)


def archived(exchange: str) -> Topology:
    """The test exchange's topology with the archive, as the services declare it by default."""
    return Topology(exchange, RETENTION)


async def declare_consumers(channel: AbstractChannel, exchange: str, *names: str) -> list[str]:
    """Consumers' queues bound to every task event (no retry queues); their names."""
    queues = []
    for name in names:
        topology = ConsumerTopology(archived(exchange), name, ("task.#",), ())
        await declare(channel, topology.declarations())
        queues.append(topology.queue)
    return queues


def live_messages(documents: list[dict[str, Any]]) -> list[OutgoingMessage]:
    """What the ingest publishes for ``documents``, received now."""
    received = now_ms()
    return [
        event_message(validate_delivery(document), received_at_ms=received)
        for document in documents
    ]


async def publish_archived(
    channel: AbstractChannel, exchange: str, messages: list[OutgoingMessage]
) -> None:
    """Publish as the ingest does: into the archive's front, each confirmed."""
    topology = archived(exchange)
    await declare(channel, topology.declarations())
    connection = await connect_amqp(AMQP_URL, "taskhook-test", publish_timeout_s=10)
    try:
        for message in messages:
            await confirm_or_fail(connection, topology.publish_exchange, message)
    finally:
        await connection.close(5)


async def read_archive(
    channel: AbstractChannel, exchange: str, since_ms: int
) -> list[ArchivedMessage]:
    reader = ArchiveReader(channel, archived(exchange))
    return [each async for each in reader.read(since_ms, now_ms() + 1, idle_s=0.5)]
