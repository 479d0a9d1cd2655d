"""``taskhook replay --archive``: a window of the archive to one consumer's queue, and only it."""

import asyncio
import uuid
from typing import Any

import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue

from taskhook.clock import now_ms
from taskhook.tools.send import sample_life
from tests.support.archive import archived, declare_consumers, live_messages, publish_archived
from tests.support.broker import queue_is_empty
from tests.support.processes import START_TIMEOUT_S, clean_environment, kill_all, run

from .test_operator_tools import Finished, tool

pytestmark = pytest.mark.archive  # replay --archive reads the archive


def lives(count: int) -> list[dict[str, Any]]:
    """``count`` whole task lives as deliveries (spawned, 5 updates, completed: 7 each),
    uploads and exports by turns."""
    return [
        document
        for task_type in ("upload", "export") * (count // 2)
        for document in sample_life(task_type, "task.completed", 7)
    ]


async def drained(channel: AbstractChannel, queue: str) -> list[Any]:
    """Every message in ``queue`` now, taken and acked."""
    source = await channel.get_queue(queue, ensure=True)
    taken = []
    while (message := await source.get(fail=False)) is not None:
        await message.ack()
        taken.append(message)
    return taken


async def count_in(channel: AbstractChannel, queue: str) -> int:
    declared: AbstractQueue = await channel.declare_queue(queue, passive=True)
    result = declared.declaration_result
    return int(result.message_count or 0)


@pytest.fixture
async def window(channel: AbstractChannel, exchange: str) -> tuple[list[str], list[str]]:
    """Two consumers' queues, a window of events archived (then taken from both queues)."""
    queues = await declare_consumers(channel, exchange, "fixed", "other")
    messages = live_messages(lives(2))
    await publish_archived(channel, exchange, messages)
    for queue in queues:
        assert len(await drained(channel, queue)) == len(messages)
    return queues, [message.message_id for message in messages]


async def test_a_window_goes_to_the_named_consumer_only_with_a_replay_header(
    channel: AbstractChannel, exchange: str, window: tuple[list[str], list[str]]
) -> None:
    (fixed, other), ids = window

    replayed = await tool(exchange, "replay", "--archive", "--since", "5m", "--to", "fixed")

    assert replayed.code == 0, replayed.error
    assert replayed.lines[-1].startswith(f"replayed {len(ids)} messages received ")
    assert replayed.lines[-1].split()[-4:-2] == ["to", fixed]
    copies = await drained(channel, fixed)
    assert [copy.message_id for copy in copies] == ids
    runs = {copy.headers["x-taskhook-replay-run"] for copy in copies}
    assert len(runs) == 1
    assert replayed.lines[-1].endswith(f"(run {runs.pop()})")
    assert {copy.headers["x-taskhook-routing-key"] for copy in copies} == {
        f"{kind}.{task_type}"
        for kind in ("task.spawned", "task.updated", "task.completed")
        for task_type in ("upload", "export")
    }
    assert "x-stream-offset" not in copies[0].headers
    assert copies[0].headers["x-taskhook-replayed"] == archived(exchange).archive_queue
    assert copies[0].headers["received-at"]
    assert await queue_is_empty(await channel.get_queue(other, ensure=True))
    unrouted = await channel.get_queue(archived(exchange).unrouted_queue, ensure=True)
    assert await queue_is_empty(unrouted)


async def test_a_pattern_and_a_dry_run_list_and_count_without_publishing(
    channel: AbstractChannel, exchange: str, window: tuple[list[str], list[str]]
) -> None:
    (fixed, _), _ = window
    args = ("replay", "--archive", "--since", "5m", "--pattern", "task.completed.#", "--to")

    dry = await tool(exchange, *args, "fixed", "--dry-run")

    assert dry.code == 0, dry.error
    assert [line.split()[1] for line in dry.lines[:-1]] == [
        "task.completed.upload",
        "task.completed.export",
    ]
    assert dry.lines[-1].startswith("would replay 2 messages received")
    assert dry.lines[-1].endswith("matching task.completed.# to " + fixed)
    assert await count_in(channel, fixed) == 0

    replayed = await tool(exchange, *args, "fixed")

    assert replayed.code == 0, replayed.error
    assert [copy.routing_key for copy in await drained(channel, fixed)] == [fixed, fixed]


async def test_a_replay_killed_half_way_and_run_again_leaves_no_gap(
    channel: AbstractChannel, exchange: str
) -> None:
    (fixed,) = await declare_consumers(channel, exchange, "fixed")
    messages = live_messages(lives(100))  # 700 events
    await publish_archived(channel, exchange, messages)
    await drained(channel, fixed)
    args = (
        "replay",
        "--archive",
        "--since",
        "10m",
        "--to",
        "fixed",
        "--run",
        "r-" + uuid.uuid4().hex[:6],
    )

    process = await run(*args, env=clean_environment(TASKHOOK_EXCHANGE=exchange))
    async with asyncio.timeout(START_TIMEOUT_S):
        while await count_in(channel, fixed) < 100:
            await asyncio.sleep(0.01)
    await kill_all(process)
    first = await drained(channel, fixed)
    assert 100 <= len(first) < len(messages)  # killed half-way

    again: Finished = await tool(exchange, *args)

    assert again.code == 0, again.error
    second = await drained(channel, fixed)
    assert [copy.message_id for copy in second] == [m.message_id for m in messages]
    assert {copy.headers["x-taskhook-replay-run"] for copy in first + second} == {args[-1]}


@pytest.mark.parametrize(
    ("options", "env", "status", "says"),
    [
        (("--since", "5m", "--to", "nobody"), {}, 1, "no consumer queue taskhook."),
        (("--since", "30d", "--to", "fixed"), {}, 2, "is before what the archive keeps"),
        (("--since", "2m", "--until", "3m", "--to", "fixed"), {}, 2, "ends before it starts"),
        (("--since", "yesterday", "--to", "fixed"), {}, 2, "--since: 'yesterday' is not a time"),
        (("--since", "5m"), {}, 2, "needs --since (the window's start) and --to CONSUMER"),
        (("--since", "5m", "--to", "Bad Name"), {}, 2, "consumer name 'Bad Name' must match"),
        (("--since", "5m", "--to", "fixed", "--pattern", "a..b"), {}, 2, "not a routing pattern"),
        (
            ("--since", "5m", "--to", "fixed"),
            {"TASKHOOK_ARCHIVE_ENABLED": "false"},
            2,
            "the archive is turned off (TASKHOOK_ARCHIVE_ENABLED=false)",
        ),
    ],
)
async def test_bad_input_ends_in_one_line_that_says_what_to_do(
    channel: AbstractChannel,
    exchange: str,
    options: tuple[str, ...],
    env: dict[str, str],
    status: int,
    says: str,
) -> None:
    await declare_consumers(channel, exchange, "fixed")

    finished = await tool(exchange, "replay", "--archive", *options, **env)

    assert finished.code == status
    assert len(finished.error.splitlines()) == 1, finished.error
    assert says in finished.error


async def test_an_empty_window_replays_nothing_and_says_so(
    channel: AbstractChannel, exchange: str
) -> None:
    (fixed,) = await declare_consumers(channel, exchange, "fixed")
    await publish_archived(channel, exchange, live_messages(lives(2)))
    await drained(channel, fixed)
    start = now_ms()

    window = ("--since", "1m", "--until", "30s")  # before anything was archived
    finished = await tool(exchange, "replay", "--archive", *window, "--to", "fixed")

    assert finished.code == 0
    assert finished.lines == []
    assert "nothing to replay; widen --since/--until or check --pattern" in finished.error
    assert await count_in(channel, fixed) == 0
    assert now_ms() - start < 15_000


async def test_a_broker_with_no_archive_stream_says_so(
    channel: AbstractChannel, exchange: str
) -> None:
    await declare_consumers(channel, exchange, "fixed")
    await channel.queue_delete(archived(exchange).archive_queue)  # as on a broker without streams

    finished = await tool(exchange, "replay", "--archive", "--since", "5m", "--to", "fixed")

    assert finished.code == 1
    assert "there is no archive stream" in finished.error
    assert "RabbitMQ 3.9+" in finished.error


@pytest.mark.parametrize("options", [(), ("--since", "1h", "--to", "fixed")])
async def test_replay_without_a_queue_or_archive_says_which_to_give(
    exchange: str, options: tuple[str, ...]
) -> None:
    finished = await tool(exchange, "replay", *options)

    assert finished.code == 2
    assert finished.error.strip() == (
        "taskhook replay: name a held-back queue, or replay the archive with "
        "--archive --since T --to CONSUMER"
    )
