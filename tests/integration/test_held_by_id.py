"""``inspect``, ``replay`` and ``discard`` acting on one message by its id, as real processes
against the real broker: the others stay where they were, in their order."""

import pytest
from aio_pika.abc import AbstractChannel

from taskhook.broker.topology import Topology
from taskhook.tools.held import discard
from tests.integration.test_operator_tools import drain, publish_events, sample, tool
from tests.support.broker import AMQP_URL, bind_queue

TASKS = ["t-a", "t-b", "t-c"]


async def three_unrouted(channel: AbstractChannel, exchange: str) -> str:
    topology = await publish_events(channel, exchange, [sample(task) for task in TASKS])
    return topology.unrouted_queue


async def test_inspect_by_id_shows_that_message_only_and_moves_nothing(
    exchange: str, channel: AbstractChannel
) -> None:
    unrouted = await three_unrouted(channel, exchange)
    shown = await tool(exchange, "inspect", unrouted, "--id", "e-t-b")
    assert shown.code == 0, shown.error
    assert f"{unrouted}: 3 held back, showing 1" in shown.error
    (line,) = shown.lines
    assert "t-b" in line
    assert await drain(channel, unrouted) == ["e-t-a", "e-t-b", "e-t-c"]


async def test_replay_by_id_replays_that_message_only(
    exchange: str, channel: AbstractChannel
) -> None:
    unrouted = await three_unrouted(channel, exchange)
    downstream = await bind_queue(channel, exchange, "#")
    replayed = await tool(exchange, "replay", unrouted, "--id", "e-t-b")
    assert replayed.code == 0, replayed.error
    assert replayed.lines[-1] == f"replayed 1, left 0 in {unrouted}"
    assert await drain(channel, downstream.name) == ["e-t-b"]
    assert await drain(channel, unrouted) == ["e-t-a", "e-t-c"]


async def test_discard_by_id_removes_that_message_only(
    exchange: str, channel: AbstractChannel
) -> None:
    unrouted = await three_unrouted(channel, exchange)
    dropped = await tool(exchange, "discard", unrouted, "e-t-b", "--yes")
    assert dropped.code == 0, dropped.error
    assert "t-b" in dropped.lines[0]
    assert dropped.lines[-1] == f"discarded 1 from {unrouted}"
    assert await drain(channel, unrouted) == ["e-t-a", "e-t-c"]


async def test_discard_without_a_terminal_to_confirm_on_removes_nothing(
    exchange: str, channel: AbstractChannel
) -> None:
    unrouted = await three_unrouted(channel, exchange)
    refused = await tool(exchange, "discard", unrouted, "e-t-b")
    assert refused.code == 2
    assert refused.error.strip() == "taskhook discard: no terminal to confirm on: pass --yes"
    assert await drain(channel, unrouted) == ["e-t-a", "e-t-b", "e-t-c"]


async def test_discard_of_an_id_the_queue_does_not_hold_says_so(
    exchange: str, channel: AbstractChannel
) -> None:
    unrouted = await three_unrouted(channel, exchange)
    missing = await tool(exchange, "discard", unrouted, "e-nope", "--yes")
    assert missing.code == 1
    assert missing.error.strip() == f"taskhook discard: no message of e-nope in {unrouted}"
    assert await drain(channel, unrouted) == ["e-t-a", "e-t-b", "e-t-c"]


async def test_discard_answered_no_removes_nothing(
    exchange: str, channel: AbstractChannel, capsys: pytest.CaptureFixture[str]
) -> None:
    unrouted = await three_unrouted(channel, exchange)
    asked: list[str] = []

    def answer_no(question: str) -> bool:
        asked.append(question)
        return False

    queue = Topology(exchange).held_queue(unrouted)
    assert queue is not None
    status = await discard(AMQP_URL, queue, "e-t-b", confirm=answer_no)
    assert status == 0
    assert asked == [f"discard 1 message(s) from {unrouted} for good? [y/N] "]
    assert capsys.readouterr().out.splitlines()[-1] == "nothing discarded"
    assert await drain(channel, unrouted) == ["e-t-a", "e-t-b", "e-t-c"]


async def test_a_task_id_as_inspect_shows_it_picks_that_tasks_messages(
    exchange: str, channel: AbstractChannel
) -> None:
    unrouted = await three_unrouted(channel, exchange)
    dropped = await tool(exchange, "discard", unrouted, "t-c", "--yes")
    assert dropped.code == 0, dropped.error
    assert dropped.lines[-1] == f"discarded 1 from {unrouted}"
    assert await drain(channel, unrouted) == ["e-t-a", "e-t-b"]
