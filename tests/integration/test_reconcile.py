"""``taskhook reconcile`` end to end: a fake Studio that really sent (and failed to send) task
lives to a real ingest, the real broker, the tasks consumer, and the command run as a process."""

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from aiohttp.test_utils import TestServer

from taskhook.broker.topology import Topology
from taskhook.clock import now_ms
from taskhook.core.delivery import WEBHOOK_PATH
from taskhook.core.message import CAUSE_HEADER, REASON_HEADER
from taskhook.core.recovery import RECONCILED_HEADER
from taskhook.tasks.consumer import tasks
from taskhook.tools.event_samples import SampleSubject, asset_snapshot, event_delivery
from taskhook.tools.samples import SampleTask, delivery, life
from tests.conftest import ConsumerFactory, Service
from tests.support.broker import bind_queue, declared_queue
from tests.support.consumers import RunningConsumer, renamed
from tests.support.deliveries import SECRET
from tests.support.processes import clean_environment, free_port, run
from tests.support.studio import API_KEY, FakeStudio

HOUR_MS = 3_600_000
RUN_TIMEOUT_S = 60.0


@dataclass
class Scenario:
    """What Studio holds after a while of webhooks: each task's events and what became of them."""

    studio: FakeStudio
    url: str  # the fake Studio's API
    events: dict[str, list[str]] = field(default_factory=dict)  # event ids by task name
    task_ids: dict[str, str] = field(default_factory=dict)
    final_phase: dict[str, str] = field(default_factory=dict)


def a_life(task_type: str, count: int, final: str, at_ms: int) -> list[dict[str, Any]]:
    task = SampleTask(str(uuid.uuid4()), task_type, "unset", at_ms)  # type: ignore[arg-type]
    steps = life(count, final)  # type: ignore[arg-type]
    return [
        delivery(task, step, event_id=str(uuid.uuid4()), at_ms=at_ms + 1000 * number)
        for number, step in enumerate(steps)
    ]


async def fire_life(
    scenario: Scenario,
    name: str,
    lifetime: list[dict[str, Any]],
    *,
    attempts_at: tuple[int | None, ...] = (None,),
    **how: Any,
) -> None:
    """Send each event of ``lifetime`` once per time in ``attempts_at`` (None: now)."""
    webhook = scenario.studio.webhooks[0]
    for document in lifetime:
        for at_ms in attempts_at:
            await scenario.studio.fire(webhook, document, at_ms=at_ms, **how)
    last = lifetime[-1]["payload"]["task"]
    scenario.events[name] = [document["id"] for document in lifetime]
    scenario.task_ids[name] = last["id"]
    scenario.final_phase[name] = last["snapshot"]["status"]["phase"]
    scenario.studio.tasks.append(last["snapshot"])


@pytest.fixture
async def studio() -> AsyncIterator[tuple[FakeStudio, str]]:
    fake = FakeStudio()
    server = TestServer(fake.app())
    await server.start_server()
    yield fake, str(server.make_url("/api"))
    await server.close()


@pytest.fixture
async def events(channel: AbstractChannel, exchange: str, service: Service) -> AbstractQueue:
    """What a downstream service bound to every event sees; bound before anything is sent."""
    return await bind_queue(channel, exchange, "#")


async def reconcile(
    exchange: str, studio_url: str, *args: str, key: str = API_KEY
) -> tuple[int, str, str]:
    env = clean_environment(
        TASKHOOK_EXCHANGE=exchange, TASKHOOK_STUDIO_URL=studio_url, TASKHOOK_STUDIO_API_KEY=key
    )
    process = await run("reconcile", *args, env=env)
    async with asyncio.timeout(RUN_TIMEOUT_S):
        stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def summary_of(stdout: str) -> dict[str, int]:
    last = stdout.strip().splitlines()[-1].split(": ")[-1]
    return {name: int(value) for name, value in (part.split("=") for part in last.split())}


async def drain(queue: AbstractQueue, settle_s: float = 0.5) -> list[AbstractIncomingMessage]:
    taken: list[AbstractIncomingMessage] = []
    while True:
        message = await queue.get(fail=False, timeout=5)
        if message is None:
            await asyncio.sleep(settle_s)
            if (message := await queue.get(fail=False, timeout=5)) is None:
                return taken
        await message.ack()
        taken.append(message)


@pytest.fixture
async def consumer(start_consumer: ConsumerFactory, consumer_name: str) -> RunningConsumer:
    """The tasks consumer, bound before anything is sent, as it is in production."""
    return await start_consumer(renamed(tasks, consumer_name))


@pytest.fixture
async def scenario(
    studio: tuple[FakeStudio, str],
    service: Service,
    events: AbstractQueue,
    consumer: RunningConsumer,
) -> Scenario:
    """Five tasks whose webhooks met every fate, and one that never had a webhook at all;
    ``events`` and the tasks consumer are bound first, so they see what the ingest published
    while they were sent."""
    fake, url = studio
    ingest_url = str(service.client.make_url(WEBHOOK_PATH))
    down_url = f"http://127.0.0.1:{free_port()}{WEBHOOK_PATH}"  # taskhook was down
    fake.add_webhook(ingest_url, SECRET)
    scene = Scenario(fake, url)
    now = now_ms()
    day_ago = now - 26 * HOUR_MS
    # Livepeer's first try and its last retry (about 24.4 h later): its retries ran out an
    # hour ago, 25 h after the event fired.
    tried = (day_ago, day_ago + 24 * HOUR_MS + 24 * 60_000)
    # Sent while taskhook was down, over a day ago.
    await fire_life(
        scene,
        "down",
        a_life("upload", 5, "task.completed", day_ago),
        attempts_at=tried,
        url=down_url,
    )
    # Sent after the secret was rotated in Studio but not here: 401, never retried.
    await fire_life(
        scene,
        "rotated",
        a_life("transcode-file", 3, "task.failed", now - HOUR_MS),
        secret="a-rotated-secret",
    )
    # Delivered: already in the broker, must not be published again.
    await fire_life(scene, "delivered", a_life("export", 3, "task.completed", now - HOUR_MS))
    # Failing right now: Livepeer is still retrying, so it is left alone.
    await fire_life(
        scene, "retrying", a_life("clip", 1, "task.updated", now - 60_000), url=down_url
    )
    # Never sent at all (a private URL, an unsubscribed event): only the task list knows.
    silent = a_life("export-data", 2, "task.completed", now - 2 * HOUR_MS)
    fake.tasks.append(silent[-1]["payload"]["task"]["snapshot"])
    scene.task_ids["silent"] = silent[-1]["payload"]["task"]["id"]
    scene.final_phase["silent"] = "completed"
    # An invalid body, lost: it must end in the rejected queue with the reason.
    invalid = a_life("upload", 1, "task.updated", day_ago)[0]
    invalid["payload"]["task"]["snapshot"]["status"]["phase"] = "finished"
    invalid["id"] = "invalid-event"
    for at_ms in tried:
        await fake.fire(fake.webhooks[0], invalid, at_ms=at_ms, url=down_url)
    return scene


async def test_lost_events_are_recovered_once_and_every_task_ends_in_its_true_state(
    scenario: Scenario,
    events: AbstractQueue,
    channel: AbstractChannel,
    exchange: str,
    consumer: RunningConsumer,
) -> None:
    live = await drain(events)  # what reached the broker while Livepeer was sending
    assert sorted(m.message_id or "" for m in live) == sorted(scenario.events["delivered"])

    status, stdout, stderr = await reconcile(exchange, scenario.url)

    assert status == 0, stderr
    assert summary_of(stdout) == {
        "examined": 13,
        "delivered": 3,
        "retrying": 1,
        "earlier": 0,
        "recovered": 8,
        "resent": 0,
        "invalid": 1,
        "resynced": 2,
        "current": 3,
        "assets_resynced": 0,
        "assets_current": 0,
        "errors": 0,
    }
    first = await drain(events)
    origins = Counter(m.headers.get(RECONCILED_HEADER) for m in first)
    # Only the tasks whose current state no delivery carried: the silent one, the retrying one.
    assert origins == {"delivery-log": 8, "task-list": 2}
    resynced = {m.headers["task-id"] for m in first if m.headers[RECONCILED_HEADER] == "task-list"}
    assert resynced == {scenario.task_ids["silent"], scenario.task_ids["retrying"]}
    recovered = [
        m.message_id or "" for m in first if m.headers[RECONCILED_HEADER] == "delivery-log"
    ]
    assert sorted(recovered) == sorted(scenario.events["down"] + scenario.events["rotated"])
    await assert_rejected(channel, exchange, "invalid-event", "/payload/task/snapshot/status/phase")
    for name, task_id in scenario.task_ids.items():
        await wait_for_phase(consumer, task_id, scenario.final_phase[name])

    again_status, _, _ = await reconcile(exchange, scenario.url)

    assert again_status == 0
    second = await drain(events)
    # Published again, but only under ids downstream services already have: they drop them.
    assert {m.message_id for m in second} <= {m.message_id for m in first}
    assert not {m.message_id for m in second} & set(scenario.events["delivered"])
    for name, task_id in scenario.task_ids.items():
        await wait_for_phase(consumer, task_id, scenario.final_phase[name])


async def test_the_deliveries_alone_bring_every_task_that_had_a_webhook_to_its_final_state(
    scenario: Scenario,
    events: AbstractQueue,
    exchange: str,
    consumer: RunningConsumer,
) -> None:
    status, stdout, stderr = await reconcile(exchange, scenario.url, "--deliveries")
    assert status == 0, stderr
    assert summary_of(stdout)["recovered"] == 8
    for name in ("down", "rotated", "delivered"):
        await wait_for_phase(consumer, scenario.task_ids[name], scenario.final_phase[name])


async def test_what_was_lost_before_the_window_is_left_to_the_runs_that_saw_it(
    scenario: Scenario, events: AbstractQueue, exchange: str, channel: AbstractChannel
) -> None:
    await drain(events)
    status, stdout, stderr = await reconcile(exchange, scenario.url, "--since", "30m")
    assert status == 0, stderr
    counts = summary_of(stdout)
    # Refused just now, so lost inside the window: the rotated secret's three events.
    assert (counts["earlier"], counts["recovered"], counts["invalid"]) == (6, 3, 0)
    assert counts["resynced"] == 1  # only the task that changed in the last 30 minutes
    resynced = [m for m in await drain(events) if m.headers[RECONCILED_HEADER] == "task-list"]
    assert [m.headers["task-id"] for m in resynced] == [scenario.task_ids["retrying"]]
    rejected = await declared_queue(channel, Topology(exchange).rejected_queue)
    assert await rejected.get(fail=False) is None


async def test_a_dry_run_lists_what_it_would_publish_and_publishes_nothing(
    scenario: Scenario, events: AbstractQueue, exchange: str
) -> None:
    await drain(events)
    status, stdout, stderr = await reconcile(exchange, scenario.url, "--dry-run")
    assert status == 0, stderr
    assert stdout.count("would-recovered") == 8
    assert stdout.count("would-resynced") == 2
    assert stdout.count("would-kept-invalid") == 1
    assert stdout.strip().splitlines()[-1].startswith("dry run, nothing published: ")
    assert await drain(events) == []


async def test_resend_asks_studio_and_reports_each_resend_s_success(
    studio: tuple[FakeStudio, str], service: Service, events: AbstractQueue, exchange: str
) -> None:
    fake, url = studio
    webhook = fake.add_webhook(str(service.client.make_url(WEBHOOK_PATH)), SECRET)
    now = now_ms()
    stale, rotated = (a_life("upload", 1, "task.completed", now - HOUR_MS) for _ in range(2))
    # Signed ten minutes ago (a sender's clock, a queue): 401 expired; a resend signs anew.
    await fake.fire(webhook, stale[0], at_ms=now - 600_000)
    await fake.fire(webhook, rotated[0], secret="a-rotated-secret")

    status, stdout, _ = await reconcile(exchange, url, "--deliveries", "--resend")

    assert status == 1  # one resend failed: not everything planned was delivered
    assert summary_of(stdout) | {"examined": 2, "resent": 1, "errors": 1} == summary_of(stdout)
    assert f"resent             {stale[0]['id']}" in stdout
    assert (
        f"error              {rotated[0]['id']}  Studio resent it and the receiver answered 401"
        in stdout
    )
    [message] = await drain(events)
    assert message.message_id == stale[0]["id"]
    assert RECONCILED_HEADER not in (message.headers or {})  # it came in as a live delivery


async def test_a_refused_key_ends_the_run_in_one_line_naming_the_setting(
    studio: tuple[FakeStudio, str], exchange: str, channel: AbstractChannel
) -> None:
    _, url = studio
    status, stdout, stderr = await reconcile(exchange, url, key="not-the-key")
    assert status == 1
    assert stdout == ""
    [line] = stderr.strip().splitlines()
    assert line.startswith("taskhook reconcile: Studio refused the API key (401")
    assert "TASKHOOK_STUDIO_API_KEY" in line
    assert "not-the-key" not in line


async def assert_rejected(
    channel: AbstractChannel, exchange: str, event_id: str, pointer: str
) -> None:
    rejected = await declared_queue(channel, Topology(exchange).rejected_queue)
    message = await rejected.get(timeout=5)
    await message.ack()
    assert message.message_id == event_id
    assert message.headers[CAUSE_HEADER] == "invalid-delivery"
    assert pointer in str(message.headers[REASON_HEADER])
    assert orjson.loads(message.body)["id"] == event_id  # the stored bytes, as they were sent


async def wait_for_phase(consumer: RunningConsumer, task_id: str, phase: str) -> None:
    seen: object = None
    try:
        async with asyncio.timeout(15):
            while True:
                status, seen = await consumer.get(f"/tasks/{task_id}")
                if status == 200 and isinstance(seen, dict) and seen["phase"] == phase:
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"task {task_id} never reached {phase}: the consumer shows {seen}")


async def test_a_lost_asset_ready_is_recovered_from_the_logs_and_a_silent_asset_from_the_list(
    studio: tuple[FakeStudio, str],
    service: Service,
    events: AbstractQueue,
    consumer: RunningConsumer,
    exchange: str,
) -> None:
    fake, url = studio
    webhook = fake.add_webhook(str(service.client.make_url(WEBHOOK_PATH)), SECRET)
    down_url = f"http://127.0.0.1:{free_port()}{WEBHOOK_PATH}"
    now = now_ms()
    day_ago = now - 26 * HOUR_MS
    lost, silent = (
        SampleSubject(str(uuid.uuid4()), f"pb{n}", str(webhook["id"]), day_ago) for n in range(2)
    )
    created = event_delivery(lost, "asset.created", event_id=str(uuid.uuid4()), at_ms=day_ago)
    # The older shape, as Studio sends it to webhooks created before 2024-07-28.
    ready = event_delivery(
        lost, "asset.ready", event_id=str(uuid.uuid4()), at_ms=day_ago + 60_000, legacy=True
    )
    await fake.fire(webhook, created)  # delivered
    for at_ms in (day_ago, day_ago + 24 * HOUR_MS + 24 * 60_000):  # taskhook down: retries ran out
        await fake.fire(webhook, ready, at_ms=at_ms, url=down_url)
    fake.assets += [
        ready["payload"]["snapshot"],
        asset_snapshot(silent, "ready", now - HOUR_MS),  # never sent: a private URL, say
    ]
    await wait_for_asset_phase(consumer, lost.id, "waiting")

    status, stdout, stderr = await reconcile(exchange, url)

    assert status == 0, stderr
    counts = summary_of(stdout)
    assert (counts["recovered"], counts["assets_current"], counts["assets_resynced"]) == (1, 1, 1)
    published = {m.message_id: m for m in await drain(events)}
    assert published[ready["id"]].headers[RECONCILED_HEADER] == "delivery-log"
    assert published[ready["id"]].routing_key == "asset.ready"
    resynced = [m for m in published.values() if m.headers.get(RECONCILED_HEADER) == "asset-list"]
    assert [m.headers["asset-id"] for m in resynced] == [silent.id]
    for subject in (lost, silent):
        shown = await wait_for_asset_phase(consumer, subject.id, "ready")
        assert shown["playbackId"] == subject.playback_id


async def wait_for_asset_phase(consumer: RunningConsumer, asset_id: str, phase: str) -> Any:
    async with asyncio.timeout(RUN_TIMEOUT_S):
        while True:
            status, body = await consumer.get(f"/assets/{asset_id}")
            if status == 200 and body["phase"] == phase:
                return body
            await asyncio.sleep(0.05)
