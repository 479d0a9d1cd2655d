"""The operator commands, run as real processes against the real broker and a running taskhook:
`send`, `inspect`, `replay` and `topology`."""

import asyncio
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from aio_pika.abc import AbstractChannel

from taskhook.bootstrap import consumer_topology
from taskhook.broker.declare import declare
from taskhook.broker.topology import Topology
from taskhook.consumers import PermanentError, TaskEvent, consumer
from taskhook.core.delivery import validate_delivery
from taskhook.core.events import TaskEventName as EventName
from taskhook.core.held import REPLAYED_HEADER
from taskhook.core.message import OutgoingMessage, event_message
from taskhook.settings import ConsumerSettings
from taskhook.tools.samples import SampleTask, SampleType, Step, delivery
from tests.conftest import ConsumerFactory, StartService
from tests.support import held, owned
from tests.support.broker import bind_queue, body_of, take
from tests.support.deliveries import SECRET
from tests.support.processes import START_TIMEOUT_S, clean_environment, free_port, kill_all, run
from tests.support.tool_consumers import PROBE

AT_MS = 1_795_000_000_000


@dataclass
class Finished:
    code: int | None
    lines: list[str]
    error: str


async def tool(exchange: str, *args: str, **env: str) -> Finished:
    """``taskhook <args>`` on the test's exchange, run to its end."""
    process = await run(*args, env=clean_environment(TASKHOOK_EXCHANGE=exchange, **env))
    stdout, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT_S)
    return Finished(process.returncode, stdout.decode().splitlines(), stderr.decode())


def sample(
    task_id: str,
    event: EventName = "task.completed",
    task_type: SampleType = "upload",
    **snapshot_changes: Any,
) -> dict[str, Any]:
    task = SampleTask(id=task_id, type=task_type, webhook_id="w-1", created_at_ms=AT_MS)
    document = delivery(task, Step(event), event_id=f"e-{task_id}", at_ms=AT_MS)
    document["payload"]["task"]["snapshot"].update(snapshot_changes)
    return document


def published_sample(task_id: str) -> OutgoingMessage:
    """What taskhook publishes for the sample delivery of ``task_id``."""
    return event_message(validate_delivery(sample(task_id)))


async def publish_events(
    channel: AbstractChannel, exchange: str, documents: list[dict[str, Any]]
) -> Topology:
    """Each delivery published as taskhook publishes it, before any queue is bound for it."""
    topology = Topology(exchange)
    await declare(channel, topology.declarations())
    messages = [event_message(validate_delivery(document)) for document in documents]
    await held.put(exchange, *messages)
    return topology


async def keep_rejected(channel: AbstractChannel, queue: str, body: bytes) -> None:
    """``body`` in the rejected queue, as taskhook keeps a delivery it refused."""
    await held.keep_rejected(queue, body, received_at_ms=AT_MS)


async def drain(channel: AbstractChannel, name: str) -> list[str]:
    """The message ids ``name`` holds, oldest first, taking them all."""
    queue = await channel.get_queue(name, ensure=True)
    ids = []
    while (message := await queue.get(fail=False)) is not None:
        await message.ack()
        ids.append(str(message.message_id))
    return ids


async def ready(channel: AbstractChannel, name: str) -> int:
    declared = await channel.declare_queue(name, passive=True)
    return declared.declaration_result.message_count or 0


# --- send -------------------------------------------------------------------------------------


async def test_send_streams_a_tasks_whole_life_and_each_event_is_published(
    serve: StartService, exchange: str, channel: AbstractChannel
) -> None:
    service = await serve()
    queue = await bind_queue(channel, exchange, "task.#")

    sent = await tool(
        exchange,
        "send",
        *("--url", service.webhook_url, "--secret", SECRET),
        *("--type", "export", "--count", "5", "--rate", "50"),
    )

    assert sent.code == 0, sent.error
    life = ["task.spawned", "task.updated", "task.updated", "task.updated", "task.completed"]
    assert [line.split()[:2] for line in sent.lines] == [["202", event] for event in life]
    published = [await take(queue) for _ in life]
    assert [m.routing_key for m in published] == [f"{event}.export" for event in life]
    bodies = [body_of(m) for m in published]
    assert len({body["task"]["id"] for body in bodies}) == 1
    assert [body["task"]["status"].get("progress") for body in bodies[1:4]] == [0.25, 0.5, 0.75]
    assert bodies[-1]["task"]["output"]["export"]["ipfs"]["videoFileCid"]


async def test_send_a_file_twice_is_one_event_and_a_duplicate(
    serve: StartService, exchange: str, tmp_path: Path
) -> None:
    service = await serve()
    path = tmp_path / "delivery.json"
    path.write_bytes(orjson.dumps(sample("t-file")))

    sent = await tool(
        exchange, "send", str(path), "--url", service.webhook_url, "--count", "2",
        TASKHOOK_WEBHOOK_SECRETS=SECRET,
    )  # fmt: skip

    assert sent.code == 0, sent.error
    assert [line.split()[:2] for line in sent.lines] == [
        ["202", "task.completed"],
        ["200", "task.completed"],
    ]
    assert '"status":"duplicate"' in sent.lines[1]


async def test_send_posts_to_the_port_taskhook_port_names_by_default(
    serve: StartService, exchange: str
) -> None:
    service = await serve()
    port = service.base_url.rsplit(":", 1)[1]

    sent = await tool(exchange, "send", TASKHOOK_PORT=port, TASKHOOK_WEBHOOK_SECRETS=SECRET)

    assert sent.code == 0, sent.error
    assert sent.lines[0].startswith('202 task.completed {"status":"accepted"')


async def test_send_reports_a_refusal_and_fails(serve: StartService, exchange: str) -> None:
    service = await serve()
    sent = await tool(exchange, "send", "--url", service.webhook_url, "--secret", "wrong")
    assert sent.code == 1
    assert sent.lines[0].startswith("401 task.completed ")


# --- inspect ----------------------------------------------------------------------------------


async def test_inspect_lists_refused_deliveries_and_leaves_them_in_order(
    serve: StartService, exchange: str, channel: AbstractChannel, tmp_path: Path
) -> None:
    service = await serve()
    for n in range(3):
        path = tmp_path / f"bad-{n}.json"
        path.write_bytes(orjson.dumps(sample(f"t-{n}", status={"phase": "done", "updatedAt": 1})))
        refused = await tool(
            exchange, "send", str(path), "--url", service.webhook_url, "--secret", SECRET
        )
        assert refused.lines[0].startswith("422 "), refused.lines
    rejected = Topology(exchange).rejected_queue

    listed = await tool(exchange, "inspect", rejected)
    again = await tool(exchange, "inspect", rejected, "--json", "--limit", "2")

    assert listed.code == again.code == 0
    assert f"{rejected}: 3 held back, showing 3" in listed.error
    rows = [line.split("  ") for line in listed.lines]
    assert [[cell.strip() for cell in row if cell][1:5] for row in rows] == [
        ["task.completed", f"t-{n}", "upload", "done"] for n in range(3)
    ]
    assert all(
        "invalid-delivery: /payload/task/snapshot/status/phase" in line for line in listed.lines
    )
    shown = [orjson.loads(line) for line in again.lines]
    assert [message["body"]["id"] for message in shown] == ["e-t-0", "e-t-1"]
    assert shown[0]["headers"]["x-taskhook-cause"] == "invalid-delivery"
    assert await drain(channel, rejected) == ["e-t-0", "e-t-1", "e-t-2"]


async def test_inspect_names_the_queues_it_reads_when_given_another(exchange: str) -> None:
    listed = await tool(exchange, "inspect", "taskhook.tasks")
    assert listed.code == 2
    assert f"name {exchange}.rejected, {exchange}.unrouted or a consumer's" in listed.error


@pytest.mark.parametrize(
    "command", [["inspect", "{rejected}"], ["replay", "{rejected}"], ["topology"], ["tail"]]
)
async def test_each_tool_says_in_one_line_that_the_broker_cannot_be_reached(
    exchange: str, command: list[str]
) -> None:
    port = free_port()
    unreachable = f"amqp://guest:secret-password@127.0.0.1:{port}/"
    args = [word.format(rejected=f"{exchange}.rejected") for word in command]

    done = await tool(exchange, *args, TASKHOOK_AMQP_URL=unreachable)

    assert done.code == 1
    assert done.error.strip().splitlines() == [
        f"taskhook {args[0]}: cannot reach the broker at 127.0.0.1:{port}: connection refused "
        "(is RabbitMQ running there?)"
    ]
    assert "secret-password" not in done.error


# --- replay -----------------------------------------------------------------------------------


@pytest.fixture
async def three_rejected(exchange: str, channel: AbstractChannel) -> list[bytes]:
    """The rejected queue holds, in order: a delivery the model now accepts, one it still
    refuses, and bytes that are not JSON."""
    await declare(channel, Topology(exchange).declarations())
    bodies = [
        orjson.dumps(sample("t-now-valid")),
        orjson.dumps(sample("t-still-bad", status={"phase": "done", "updatedAt": 1})),
        b"{not json",
    ]
    for body in bodies:
        await keep_rejected(channel, Topology(exchange).rejected_queue, body)
    return bodies


async def test_replay_publishes_what_now_passes_and_leaves_what_still_fails_in_place(
    exchange: str, channel: AbstractChannel, three_rejected: list[bytes]
) -> None:
    downstream = await bind_queue(channel, exchange, "task.#")
    rejected = Topology(exchange).rejected_queue

    replayed = await tool(exchange, "replay", rejected)

    assert replayed.code == 0, replayed.error
    assert replayed.lines[0].split() == [
        "replayed", "e-t-now-valid", "task.completed", "->", exchange, "as", "task.completed.upload"
    ]  # fmt: skip
    assert replayed.lines[1].startswith("stays         e-t-still-bad  task.completed  /payload/")
    assert replayed.lines[2].startswith("stays")
    assert "the body is not valid JSON" in replayed.lines[2]
    assert replayed.lines[-1] == f"replayed 1, left 2 in {rejected}"
    message = await take(downstream)
    # As the ingest would have published it when it first arrived, then.
    expected = event_message(
        validate_delivery(orjson.loads(three_rejected[0])), received_at_ms=AT_MS
    )
    assert (message.routing_key, message.message_id, message.body) == (
        expected.routing_key,
        expected.message_id,
        expected.body,
    )
    # And saying where it was held back, for a consumer's current_delivery().replayed.
    assert dict(message.headers) == {**expected.headers, REPLAYED_HEADER: rejected}
    left = await drain(channel, rejected)
    assert left[0] == "e-t-still-bad"
    assert len(left) == 2


async def test_a_dry_run_says_what_would_happen_and_moves_nothing(
    exchange: str, channel: AbstractChannel, three_rejected: list[bytes]
) -> None:
    downstream = await bind_queue(channel, exchange, "#")
    rejected = Topology(exchange).rejected_queue

    dry = await tool(exchange, "replay", rejected, "--dry-run")

    assert dry.code == 0, dry.error
    assert dry.lines[0].startswith("would replay  e-t-now-valid  task.completed  -> ")
    assert dry.lines[-1] == f"would replay 1, left 2 in {rejected}"
    assert await ready(channel, rejected) == 3
    assert await ready(channel, downstream.name) == 0


async def test_replay_sends_unrouted_events_to_the_queues_bound_since(
    exchange: str, channel: AbstractChannel
) -> None:
    kinds: list[tuple[str, SampleType]] = [("t-a", "upload"), ("t-b", "clip"), ("t-c", "export")]
    documents = [sample(task_id, task_type=task_type) for task_id, task_type in kinds]
    topology = await publish_events(channel, exchange, documents)
    downstream = await bind_queue(channel, exchange, "task.completed.upload", "task.*.clip")

    replayed = await tool(exchange, "replay", topology.unrouted_queue)

    assert replayed.code == 0, replayed.error
    assert sorted(await drain(channel, downstream.name)) == ["e-t-a", "e-t-b"]
    # Still no queue for it: published again, it came back.
    assert await drain(channel, topology.unrouted_queue) == ["e-t-c"]
    assert f"{topology.unrouted_queue} holds 1 again" in "\n".join(replayed.lines)


async def test_replay_hands_a_dead_message_back_to_its_consumer_only(
    start_consumer: ConsumerFactory, consumer_name: str, channel: AbstractChannel, exchange: str
) -> None:
    handled: list[str] = []
    broken = True

    @consumer(consumer_name, "task.completed.*")
    async def flaky(event: TaskEvent) -> None:
        if broken:
            raise PermanentError("the database refused it")
        handled.append(event.id)

    running = await start_consumer(flaky)
    other = await bind_queue(channel, exchange, "task.#")  # another consumer, already served
    await held.put(exchange, published_sample("t-dead"))
    assert (await take(other)).message_id == "e-t-dead"
    async with asyncio.timeout(10):
        while await ready(channel, running.topology.dead_queue) < 1:
            await asyncio.sleep(0.05)
    broken = False

    replayed = await tool(exchange, "replay", running.topology.dead_queue)

    assert replayed.code == 0, replayed.error
    assert replayed.lines[0].endswith(f"-> queue {running.topology.queue}")
    async with asyncio.timeout(10):
        while not handled:
            await asyncio.sleep(0.05)
    assert handled == ["e-t-dead"]
    assert await ready(channel, running.topology.dead_queue) == 0
    assert await ready(channel, other.name) == 0


async def test_replay_removes_nothing_when_the_consumer_queue_is_gone(
    exchange: str, channel: AbstractChannel, consumer_name: str
) -> None:
    dead = f"taskhook.{exchange}.{consumer_name}.dead"
    owned.own_queue(exchange, dead)
    await channel.declare_queue(dead, durable=True, arguments={"x-queue-type": "quorum"})
    await held.put("", replace(published_sample("t-orphan"), routing_key=dead))

    replayed = await tool(exchange, "replay", dead)

    assert replayed.code == 1
    home = f"taskhook.{exchange}.{consumer_name}"
    assert f"queue {home} does not exist: nothing removed" in replayed.error
    assert await drain(channel, dead) == ["e-t-orphan"]


async def test_a_replay_killed_midway_loses_nothing(
    exchange: str, channel: AbstractChannel
) -> None:
    ids = [f"e-t-{n}" for n in range(300)]
    topology = await publish_events(channel, exchange, [sample(f"t-{n}") for n in range(300)])
    downstream = await bind_queue(channel, exchange, "#")
    process = await run(
        "replay", topology.unrouted_queue, env=clean_environment(TASKHOOK_EXCHANGE=exchange)
    )
    assert process.stdout is not None
    async with asyncio.timeout(START_TIMEOUT_S):
        for _ in range(10):  # killed while it is replaying, well before it is done
            assert (await process.stdout.readline()).startswith(b"replayed ")

    await kill_all(process)

    delivered = await drain(channel, downstream.name)
    left = await drain(channel, topology.unrouted_queue)
    assert 10 <= len(delivered) < len(ids)
    assert set(delivered) | set(left) == set(ids)
    # A copy confirmed but its original not yet removed is the only one kept twice.
    assert len(delivered) + len(left) - len(ids) <= 1
    assert left == [i for i in ids if i in set(left)]  # and what is left kept its order


# --- topology ---------------------------------------------------------------------------------


@pytest.fixture
def probe_queues(exchange: str) -> None:
    """The probe consumer's queues, which ``taskhook topology`` declares, are the test's own."""
    owned.own_consumer(consumer_topology(PROBE, ConsumerSettings(exchange=exchange)))


async def test_topology_declares_everything_once_and_prints_it(
    exchange: str, channel: AbstractChannel, probe_queues: None
) -> None:
    reference = "tests.support.tool_consumers:PROBE"

    first = await tool(exchange, "topology", reference)
    second = await tool(exchange, "topology", reference)

    assert first.code == second.code == 0, first.error + second.error
    assert first.lines == second.lines
    words = [line.split()[:2] for line in first.lines]
    for expected in (
        ["exchange", exchange],
        ["queue", f"{exchange}.rejected"],
        ["queue", f"taskhook.{exchange}.{PROBE.name}.dead"],
        ["queue", f"taskhook.{exchange}.{PROBE.name}.retry.5000ms"],
        ["binding", exchange],
    ):
        assert expected in words
    await held.put(exchange, published_sample("t-probe"))
    async with asyncio.timeout(5):
        while await ready(channel, f"taskhook.{exchange}.{PROBE.name}") < 1:
            await asyncio.sleep(0.05)


async def test_topology_refuses_a_queue_that_exists_with_other_arguments(
    exchange: str, channel: AbstractChannel, probe_queues: None
) -> None:
    await channel.declare_queue(f"{exchange}.rejected", durable=True)  # classic, not quorum

    refused = await tool(exchange, "topology", "tests.support.tool_consumers:PROBE")

    assert refused.code == 1
    assert "taskhook topology: the broker refused a declaration: " in refused.error
    assert "PRECONDITION_FAILED" in refused.error
    assert "x-queue-type" in refused.error
