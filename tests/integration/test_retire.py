"""``taskhook retire`` on the real broker: it removes one consumer's queues and bindings, and
nothing else, and refuses while they hold messages unless forced."""

import asyncio
from dataclasses import replace

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from aio_pika.exceptions import ChannelNotFoundEntity

from taskhook.bootstrap import consumer_topology
from taskhook.broker.declare import declare
from taskhook.broker.topology import ConsumerTopology, Topology
from taskhook.settings import ConsumerSettings
from taskhook.tasks.consumer import tasks
from tests.integration.test_operator_tools import Finished, published_sample, tool
from tests.support import owned
from tests.support.broker import AMQP_URL
from tests.support.held import put

DELAYS = {"TASKHOOK_CONSUMER_RETRY_DELAYS_S": "0.2,1"}


@pytest.fixture
async def declared(exchange: str, consumer_name: str, channel: AbstractChannel) -> ConsumerTopology:
    """The consumer's queues and bindings, declared as `taskhook consume` would; whatever is
    left of them is removed with the test's exchange."""
    topology = ConsumerTopology(Topology(exchange), consumer_name, ("task.#",), (200, 1000))
    owned.own_consumer(topology)
    await declare(channel, topology.declarations())
    return topology


async def exists(name: str) -> bool:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection, connection.channel() as channel:
        try:
            await channel.declare_queue(name, passive=True)
        except ChannelNotFoundEntity:
            return False
        return True


def names(topology: ConsumerTopology) -> list[str]:
    retries = [topology.retry_queue(delay) for delay in topology.retry_delays_ms]
    return [topology.queue, *retries, topology.dead_queue]


async def retire(exchange: str, *args: str) -> Finished:
    return await tool(exchange, "retire", *args, **DELAYS)


async def test_a_dry_run_lists_what_would_go_and_removes_nothing(
    exchange: str, declared: ConsumerTopology
) -> None:
    dry = await retire(exchange, declared.name, "--dry-run")

    assert dry.code == 0, dry.error
    assert [line.split()[:2] for line in dry.lines] == [["queue", name] for name in names(declared)]
    assert all(line.endswith("would remove (0 messages)") for line in dry.lines)
    assert [await exists(name) for name in names(declared)] == [True] * 4


async def test_a_dry_run_while_the_consumer_runs_lists_its_bindings_and_what_is_in_use(
    exchange: str, declared: ConsumerTopology, channel: AbstractChannel
) -> None:
    # A registered consumer (the tasks one, on the test's exchange): its bindings are known.
    settings = ConsumerSettings(exchange=exchange, consumer_retry_delays_s=(0.2, 1))
    topology = consumer_topology(tasks, settings)
    owned.own_consumer(topology)
    await declare(channel, topology.declarations())
    reader = await channel.get_queue(topology.queue)

    async def ignore(message: AbstractIncomingMessage) -> None:
        pass

    tag = await reader.consume(ignore)
    try:
        dry = await retire(exchange, "tasks", "--dry-run")
    finally:
        await reader.cancel(tag)

    assert dry.code == 0, dry.error
    # The tasks consumer binds task.# and asset.#: one line each, then its queue.
    assert [line.split()[:4] for line in dry.lines[:2]] == [
        ["binding", exchange, binding, "->"] for binding in tasks.bindings
    ]
    assert f"{topology.queue}" in dry.lines[2]
    assert dry.lines[2].endswith("would remove (0 messages, 1 consumer(s))")
    assert dry.lines[-1] == (
        f"without --force a real run would refuse: {topology.queue} is still consumed "
        "(1 consumer(s)): stop `taskhook consume tasks` first, or --force; nothing removed"
    )


async def test_retry_queues_of_former_delays_are_found_and_can_go_alone(
    exchange: str, declared: ConsumerTopology, channel: AbstractChannel
) -> None:
    # The consumer ran with 0.2,1 (declared) and now runs with 0.2,3: the 1 s queue is stale.
    now = {"TASKHOOK_CONSUMER_RETRY_DELAYS_S": "0.2,3"}
    current = replace(declared, retry_delays_ms=(200, 3000))
    owned.own_consumer(current)
    await declare(channel, current.declarations())
    stale = declared.retry_queue(1000)

    dry = await tool(exchange, "retire", declared.name, "--dry-run", "--former-delays", "1", **now)
    assert any(line.split()[1] == stale for line in dry.lines), dry.lines

    gone = await tool(
        exchange, "retire", declared.name, "--stale-retries", "--former-delays", "0.2,1", **now
    )
    assert gone.code == 0, gone.error
    assert [line.split()[1] for line in gone.lines] == [stale]
    assert not await exists(stale)
    assert [await exists(name) for name in names(current)] == [True] * 4


async def test_retire_removes_the_consumers_queues_and_bindings_and_nothing_else(
    exchange: str, declared: ConsumerTopology, channel: AbstractChannel
) -> None:
    retired = await retire(exchange, declared.name)

    assert retired.code == 0, retired.error
    assert [await exists(name) for name in names(declared)] == [False] * 4
    # The events exchange and its held-back queues stay; what it publishes is unrouted now.
    await put(exchange, published_sample("t-after"))
    unrouted = await channel.get_queue(Topology(exchange).unrouted_queue, ensure=True)
    async with asyncio.timeout(5):
        while (message := await unrouted.get(fail=False)) is None:
            await asyncio.sleep(0.05)
    assert message.message_id == "e-t-after"
    again = await retire(exchange, declared.name)
    assert (again.code, again.lines) == (
        0,
        [f"nothing of consumer {declared.name!r} is on this broker"],
    )


async def test_retire_refuses_while_a_queue_holds_messages_unless_forced(
    exchange: str, declared: ConsumerTopology, channel: AbstractChannel
) -> None:
    parked = replace(published_sample("t-parked"), routing_key=declared.dead_queue)
    await put("", parked)

    refused = await retire(exchange, declared.name)

    assert refused.code == 1
    assert refused.error.splitlines() == [
        f"taskhook retire: {declared.dead_queue} holds 1 message(s): inspect or replay them "
        "first, or --force to drop them; nothing removed"
    ]
    assert [await exists(name) for name in names(declared)] == [True] * 4

    forced = await retire(exchange, declared.name, "--force")

    assert forced.code == 0, forced.error
    (dead,) = [line for line in forced.lines if line.split()[1] == declared.dead_queue]
    assert dead.endswith("removed (1 messages)")
    assert [await exists(name) for name in names(declared)] == [False] * 4


async def test_retire_refuses_a_name_no_consumer_can_have(exchange: str) -> None:
    refused = await retire(exchange, "Not A Name")
    assert refused.code == 2
    assert "consumer name 'Not A Name' must match" in refused.error
