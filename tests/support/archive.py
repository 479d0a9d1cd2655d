"""The archive from a test: a topology with one, events published into it, what it holds."""

import asyncio
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
from taskhook.settings import DEFAULT_ARCHIVE_MAX_AGE_S, DEFAULT_ARCHIVE_MAX_BYTES
from tests.support import owned
from tests.support.broker import AMQP_URL

PUBLISHED_TOGETHER = 100
# What the services declare by default: a stream's arguments cannot change once it exists.
RETENTION = ArchiveRetention(DEFAULT_ARCHIVE_MAX_AGE_S, DEFAULT_ARCHIVE_MAX_BYTES)


def archived(exchange: str) -> Topology:
    """The test exchange's topology with the archive, as the services declare it by default."""
    return Topology(exchange, RETENTION)


async def declare_consumers(channel: AbstractChannel, exchange: str, *names: str) -> list[str]:
    """Consumers' queues bound to every task event (no retry queues), removed with the test's
    exchange; their names."""
    queues = []
    for name in names:
        topology = ConsumerTopology(archived(exchange), name, ("task.#",), ())
        owned.own_consumer(topology)
        await declare(channel, topology.declarations())
        queues.append(topology.queue)
    return queues


def live_messages(documents: list[dict[str, Any]]) -> list[OutgoingMessage]:
    """What the ingest publishes for ``documents``, received one a millisecond up to now."""
    received = now_ms() - len(documents)
    return [
        event_message(validate_delivery(document), received_at_ms=received + i)
        for i, document in enumerate(documents)
    ]


async def publish_archived(
    channel: AbstractChannel, exchange: str, messages: list[OutgoingMessage]
) -> None:
    """Publish as the ingest does: into the archive's front, each confirmed."""
    topology = archived(exchange)
    await declare(channel, topology.declarations())
    connection = await connect_amqp(AMQP_URL, "taskhook-test", publish_timeout_s=10)
    try:
        for start in range(0, len(messages), PUBLISHED_TOGETHER):  # in order, a window at a time
            await asyncio.gather(
                *(
                    confirm_or_fail(connection, topology.publish_exchange, message)
                    for message in messages[start : start + PUBLISHED_TOGETHER]
                )
            )
    finally:
        await connection.close(5)


async def read_archive(
    channel: AbstractChannel, exchange: str, since_ms: int
) -> list[ArchivedMessage]:
    reader = ArchiveReader(channel, archived(exchange))
    return [each async for each in reader.read(since_ms, now_ms() + 1, idle_s=0.5)]
