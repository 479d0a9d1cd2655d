"""The tests' own hygiene on the shared broker and machine: what a test declares is found until
its exchange is removed, and what it started is killed whole after it (tests/support/owned.py,
tests/support/processes.py)."""

import asyncio
import os
import signal

import pytest
from aio_pika.abc import AbstractChannel

from taskhook.broker.declare import declare
from taskhook.broker.topology import ConsumerTopology, Topology
from tests.support import owned, processes


async def test_everything_declared_on_a_tests_exchange_is_found_until_it_is_removed(
    exchange: str, channel: AbstractChannel
) -> None:
    consumer = ConsumerTopology(Topology(exchange), "leftover", ("task.#",), (200,))
    owned.own_consumer(consumer)
    owned.own_queue(exchange, f"{exchange}.counted")
    await declare(channel, consumer.declarations())
    await channel.declare_queue(f"{exchange}.counted", durable=True)

    left = {line.split()[1] for line in await owned.left_behind([exchange])}

    declared = consumer.declarations()
    assert left == {
        *(queue.name for queue in declared.queues),
        *(spec.name for spec in declared.exchanges),
        f"{exchange}.counted",
    }
    await owned.remove(exchange)
    assert await owned.left_behind([exchange]) == []


def test_a_test_owns_only_the_exchanges_it_made_up() -> None:
    with pytest.raises(ValueError, match=r"'livepeer\.tasks' is not this run's"):
        owned.own_consumer(ConsumerTopology(Topology("livepeer.tasks"), "tasks", (), ()))


async def test_what_a_test_started_is_killed_with_its_children_and_their_own_groups() -> None:
    # A shell that starts a child in a process group of its own (as `make run` at a terminal
    # does), all three ignoring SIGINT and SIGTERM: only SIGKILL to the whole session ends them.
    script = "trap '' INT TERM; set -m; sleep 300 & set +m; sleep 300; exit 0"
    process = await asyncio.create_subprocess_exec("bash", "-c", script, start_new_session=True)
    session = processes.track(process.pid)
    assert session is not None
    async with asyncio.timeout(5):
        while len(processes.members(session)) < 3:
            await asyncio.sleep(0.02)
    assert len({os.getpgid(pid) for pid in processes.members(session)}) == 2

    processes.kill_started()

    assert await asyncio.wait_for(process.wait(), 5) == -signal.SIGKILL
    async with asyncio.timeout(5):  # the orphaned child is reaped by init, not at once
        while processes.members(session):
            await asyncio.sleep(0.02)
