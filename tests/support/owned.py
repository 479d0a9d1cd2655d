"""What this test run owns on the shared broker, removed after each test, proven gone at the end.

A test owns an exchange name it made up (``new_exchange``) and everything declared on it: what
the services declare for that exchange, the archive included, and the queues of every consumer
the test ran or declared there (``own_consumer``). Both lists come from the topology itself
(``taskhook.broker.topology``), never from a list kept here, so a queue added to the topology is
removed by the tests without anyone remembering to.

A test runs without the archive unless it is marked ``archive``: each archive is a stream, and
hundreds of streams made and deleted per run are what the shared broker finds hardest. Its
exchange carries that choice (``archive_settings``, ``archive_environment``), so the fixtures
and the processes a test starts on it agree; a test marked ``archive`` sets nothing, and sees
the default as shipped.

Nothing else is deleted or looked at: the broker is shared with other runs and with the lead's
benchmarks, whose names this run never made up.
"""

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import aio_pika
from aio_pika.abc import AbstractConnection

from taskhook.broker.connection import connect
from taskhook.broker.topology import (
    ArchiveRetention,
    ConsumerTopology,
    Declarations,
    QueueSpec,
    Topology,
)
from taskhook.settings import DEFAULT_ARCHIVE_MAX_AGE_S, DEFAULT_ARCHIVE_MAX_BYTES
from tests.support.broker import AMQP_URL

PREFIX = "taskhook-test."
# Passive declares in flight at once at the end of the run: a few hundred tests' names checked
# in seconds, without a burst the shared broker would notice.
CHECKS_AT_ONCE = 8
# Names do not depend on retention: this only says the archive's names are owned too.
WITH_ARCHIVE = ArchiveRetention(DEFAULT_ARCHIVE_MAX_AGE_S, DEFAULT_ARCHIVE_MAX_BYTES)


@dataclass
class Owned:
    """One test's exchange, the test that made it up, and the consumers declared on it."""

    exchange: str
    test: str
    archive: bool
    url: str  # the broker it lives on: the shared one, or a cluster of the tests' own
    consumers: set[ConsumerTopology] = field(default_factory=set)
    queues: set[str] = field(default_factory=set)  # a test's own, beside the topology

    def declarations(self) -> Declarations:
        """Everything that may have been declared: the archive too, whatever a test set."""
        everything = Topology(self.exchange, WITH_ARCHIVE).declarations()
        for consumer in self.consumers:
            everything += consumer.declarations()
        own = tuple(QueueSpec(name, {}) for name in sorted(self.queues))
        return everything + Declarations(queues=own)


_OWNED: dict[str, Owned] = {}


def new_exchange(test: str, *, archive: bool, url: str = AMQP_URL) -> str:
    """A private exchange name for ``test`` (a node id) on the broker at ``url``, owned by this
    run from now on; the processes and services on it run with the archive (as shipped) or
    without. ``url`` may name several nodes (a cluster of the tests' own), comma-separated."""
    name = f"{PREFIX}{uuid.uuid4().hex[:12]}"
    _OWNED[name] = Owned(name, test, archive, url)
    return name


def archive_settings(exchange: str) -> dict[str, bool]:
    """Settings for a service or consumer on ``exchange``: none (the archive as shipped) for a
    test marked ``archive`` or on an exchange this run does not own, else the archive off."""
    return {} if _with_archive(exchange) else {"archive_enabled": False}


def archive_environment(exchange: str) -> dict[str, str]:
    """``archive_settings`` for a process: ``TASKHOOK_ARCHIVE_ENABLED`` unset, or false."""
    return {} if _with_archive(exchange) else {"TASKHOOK_ARCHIVE_ENABLED": "false"}


def _with_archive(exchange: str) -> bool:
    owned = _OWNED.get(exchange)
    return owned is None or owned.archive


def own_consumer(topology: ConsumerTopology) -> None:
    """``topology``'s queues are removed with its exchange, which must be this run's."""
    _owner(topology.events.exchange).consumers.add(topology)


def own_queue(exchange: str, queue: str) -> None:
    """A queue of the test's own beside ``exchange``'s topology, removed with it."""
    _owner(exchange).queues.add(queue)


def _owner(exchange: str) -> Owned:
    owned = _OWNED.get(exchange)
    if owned is None:
        raise ValueError(f"exchange {exchange!r} is not this run's: make it with new_exchange")
    return owned


async def remove(exchange: str) -> None:
    """Delete every queue, then every exchange, declared on ``exchange``, over a connection of
    its own (a test may have cut every other one). What does not exist is skipped."""
    owned = _owner(exchange)
    declared = owned.declarations()
    connection = await connect(owned.url, "taskhook-test-cleanup")
    async with connection:
        channel = await connection.channel()
        for queue in declared.queues:
            await channel.queue_delete(queue.name)
        for spec in declared.exchanges:
            await channel.exchange_delete(spec.name)


async def left_behind(exchanges: Iterable[str] | None = None) -> list[str]:
    """What this run declared on the shared broker (on ``exchanges``, or on all of its own) and
    the broker still holds, as ``queue <name> (<test>)``. Passive declares only: they create and
    change nothing. A cluster of the tests' own is not looked at: it goes with its nodes."""
    mine = _OWNED.values() if exchanges is None else [_owner(e) for e in exchanges]
    looked_at = [owned for owned in mine if owned.url == AMQP_URL]
    wanted = [
        (kind, name, owned.test)
        for owned in looked_at
        for kind, name in _names(owned.declarations())
    ]
    if not wanted:
        return []
    connection = await connect(AMQP_URL, "taskhook-test-leftovers")
    async with connection:
        at_once = asyncio.Semaphore(CHECKS_AT_ONCE)

        async def still_there(kind: str, name: str) -> bool:
            async with at_once:
                return await _exists(connection, kind, name)

        found = await asyncio.gather(*(still_there(kind, name) for kind, name, _ in wanted))
    kept = zip(wanted, found, strict=True)
    return [f"{kind} {name} ({test})" for (kind, name, test), there in kept if there]


def _names(declared: Declarations) -> list[tuple[str, str]]:
    queues = [("queue", queue.name) for queue in declared.queues]
    return queues + [("exchange", exchange.name) for exchange in declared.exchanges]


async def _exists(connection: AbstractConnection, kind: str, name: str) -> bool:
    """A passive declare on a channel of its own: a miss closes the channel, not the connection."""
    channel = await connection.channel()
    try:
        if kind == "queue":
            await channel.declare_queue(name, passive=True)
        else:
            await channel.declare_exchange(name, passive=True)
    except aio_pika.exceptions.ChannelNotFoundEntity:
        return False
    await channel.close()
    return True
