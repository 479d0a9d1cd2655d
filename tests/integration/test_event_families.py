"""Every family of Livepeer events through the real ingest and the real broker: typed in a
consumer, kept by the reference consumer, and the playback gate that must never be queued."""

import asyncio
import logging
import random
import uuid
from typing import Any

import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue

from taskhook.broker.topology import Topology
from taskhook.clock import now_ms
from taskhook.consumers import (
    AnyEvent,
    AssetEvent,
    MultistreamEvent,
    PlaybackEvent,
    RecordingEvent,
    StreamEvent,
    consumer,
)
from taskhook.core.delivery import WEBHOOK_PATH
from taskhook.core.message import CAUSE_HEADER, REASON_HEADER
from taskhook.tasks.consumer import tasks
from taskhook.tools.event_samples import SampleSubject, event_delivery, gate_request
from taskhook.tools.send import sample_events
from tests.conftest import ConsumerFactory, Service
from tests.support.broker import bind_queue, declared_queue, queue_is_empty
from tests.support.consumers import renamed
from tests.support.deliveries import (
    GATE_SAMPLE,
    family_sample_names,
    load_family_sample,
    signed,
)

WAIT_S = 15.0
PROBLEM = "application/problem+json"
CLASS_OF_FAMILY = {
    "asset": AssetEvent,
    "stream": StreamEvent,
    "recording": RecordingEvent,
    "multistream": MultistreamEvent,
    "playback": PlaybackEvent,
}


async def post(service: Service, document: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    body, headers = signed(document)
    response = await service.client.post(WEBHOOK_PATH, data=body, headers=headers)
    return response.status, await response.json(content_type=None)


def a_subject() -> SampleSubject:
    subject_id = str(uuid.uuid4())
    return SampleSubject(
        id=subject_id,
        playback_id=subject_id.replace("-", "")[:16],
        webhook_id=str(uuid.uuid4()),
        created_at_ms=now_ms() - 60_000,
    )


async def test_every_family_reaches_a_consumer_as_its_own_class(
    service: Service, start_consumer: ConsumerFactory, consumer_name: str
) -> None:
    seen: dict[str, Any] = {}

    @consumer(consumer_name, "asset.#", "stream.#", "recording.#", "multistream.#", "playback.#")
    async def record(event: AnyEvent) -> None:
        seen[event.id] = event

    running = await start_consumer(record)
    await running.wait_ready()
    documents = [load_family_sample(name) for name in family_sample_names()]
    for document in documents:
        assert (await post(service, document))[0] == 202, document["event"]

    async with asyncio.timeout(WAIT_S):
        while len(seen) < len(documents):
            await asyncio.sleep(0.05)
    for document in documents:
        event = seen[document["id"]]
        assert isinstance(event, CLASS_OF_FAMILY[document["event"].split(".")[0]])
        assert event.event == document["event"]
    # Both shapes of asset.ready, one body: the snapshot under `asset`.
    nested, legacy = (
        seen[load_family_sample(name)["id"]]
        for name in ("asset.ready.json", "asset.ready.legacy.json")
    )
    assert nested.asset == legacy.asset
    assert nested.asset.status.phase == "ready"
    assert nested.asset.playback_id
    assert await running.count("dead-lettered") == 0


@pytest.mark.parametrize(
    ("last", "legacy"),
    [
        ("asset.ready", False),
        ("asset.failed", True),
        ("stream.idle", False),
        ("recording.ready", False),
        ("multistream.disconnected", False),
        ("playback.user.new", False),
    ],
)
async def test_a_family_s_life_shuffled_and_repeated_reaches_its_consumer_once_each_typed(
    service: Service,
    start_consumer: ConsumerFactory,
    consumer_name: str,
    last: str,
    legacy: bool,
) -> None:
    family = last.split(".")[0]
    seen: list[Any] = []

    @consumer(consumer_name, f"{family}.#")
    async def record(event: AnyEvent) -> None:
        seen.append(event)

    running = await start_consumer(record)
    await running.wait_ready()
    life = list(sample_events(last, 4, legacy=legacy))
    repeated = life + life[:2]
    random.Random(family).shuffle(repeated)

    answers = [(await post(service, document))[0] for document in repeated]

    assert sorted(answers) == [200, 200, 202, 202, 202, 202]
    async with asyncio.timeout(WAIT_S):
        while len(seen) < len(life):
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # nothing more comes: the repeats were answered, not published
    assert sorted(event.id for event in seen) == sorted(document["id"] for document in life)
    assert {type(event) for event in seen} == {CLASS_OF_FAMILY[family]}
    assert life[-1]["event"] == last


async def test_asset_lives_in_both_shapes_shuffled_and_repeated_end_in_their_true_state(
    service: Service,
    start_consumer: ConsumerFactory,
    consumer_name: str,
    database_url: str,
) -> None:
    running = await start_consumer(renamed(tasks, consumer_name), database_url=database_url)
    await running.wait_ready()
    ready, failed, deleted = a_subject(), a_subject(), a_subject()
    start = now_ms() - 50_000

    def life(subject: SampleSubject, *events: str, legacy: bool = False) -> list[dict[str, Any]]:
        return [
            event_delivery(
                subject,
                name,
                event_id=str(uuid.uuid4()),
                at_ms=start + 1000 * n,
                step=n / len(events),
                legacy=legacy,
            )
            for n, name in enumerate(events)
        ]

    deliveries = [
        *life(ready, "asset.created", "asset.updated", "asset.updated", "asset.ready"),
        *life(failed, "asset.created", "asset.updated", "asset.failed", legacy=True),
        *life(deleted, "asset.created", "asset.ready", legacy=True),
    ]
    # Deleted after it was ready: Studio sends the asset as it was before the delete.
    deleted_at = start + 10_000
    deletion = event_delivery(deleted, "asset.deleted", event_id=str(uuid.uuid4()), at_ms=0)
    deletion["createdAt"] = deleted_at
    deletion["payload"]["asset"]["snapshot"]["status"]["updatedAt"] = start + 1000
    deliveries.append(deletion)
    repeated = deliveries + deliveries[1:4]
    random.Random(25).shuffle(repeated)

    answers = [(await post(service, document))[0] for document in repeated]

    assert sorted(answers) == [200] * 3 + [202] * len(deliveries)
    shown = {
        subject.id: await wait_for_asset(running, subject.id, phase)
        for subject, phase in ((ready, "ready"), (failed, "failed"), (deleted, "deleted"))
    }
    assert shown[ready.id]["playbackId"] == ready.playback_id
    assert shown[ready.id]["outputs"]["playbackUrl"].endswith(f"/{ready.playback_id}/index.m3u8")
    assert shown[ready.id]["outputs"]["tracks"][0]["resolution"] == "1920x1080"
    assert shown[failed.id]["errorMessage"]
    assert shown[deleted.id]["updatedAt"] == deleted_at
    status, listed = await running.get("/assets?phase=ready&phase=failed")
    assert status == 200
    assert {asset["id"] for asset in listed["assets"]} == {ready.id, failed.id}
    assert await running.count("dead-lettered") == 0


async def wait_for_asset(running: Any, asset_id: str, phase: str) -> dict[str, Any]:
    async with asyncio.timeout(WAIT_S):
        while True:
            status, body = await running.get(f"/assets/{asset_id}")
            if status == 200 and body["phase"] == phase:
                return dict(body)
            await asyncio.sleep(0.05)


@pytest.fixture
async def everything(channel: AbstractChannel, exchange: str, service: Service) -> AbstractQueue:
    """A queue bound to every routing key: proves what was NOT published."""
    return await bind_queue(channel, exchange, "#")


async def test_a_flood_of_playback_gate_requests_adds_nothing_to_any_queue(
    service: Service,
    everything: AbstractQueue,
    channel: AbstractChannel,
    exchange: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="taskhook.webhook")
    answers = []
    for _ in range(60):
        body, headers = signed(gate_request(now_ms()))
        response = await service.client.post(WEBHOOK_PATH, data=body, headers=headers)
        answers.append((response.status, (await response.json(content_type=PROBLEM))["type"]))

    assert set(answers) == {(421, "urn:taskhook:problem:access-control-request")}
    assert await queue_is_empty(everything)
    rejected = await declared_queue(channel, Topology(exchange).rejected_queue)
    assert await rejected.get(fail=False) is None
    assert service.metrics.requests.labels("refused", "access-control-request")._value.get() == 60
    warnings = [r for r in caplog.records if "access-control" in r.getMessage()]
    assert len(warnings) == 1  # one a minute for the one webhook that sent them all
    assert warnings[0].__dict__["signed_by"] == "secret-1"


async def test_the_committed_gate_sample_is_recognised_too(service: Service) -> None:
    status, answer = await post(service, load_family_sample(GATE_SAMPLE))
    assert status == 421
    assert "access-control service" in answer["detail"]


async def test_an_asset_in_an_impossible_phase_is_refused_and_kept(
    service: Service, everything: AbstractQueue, channel: AbstractChannel, exchange: str
) -> None:
    document = load_family_sample("asset.ready.json")
    document["payload"]["asset"]["snapshot"]["status"]["phase"] = "finished"

    status, answer = await post(service, document)

    assert status == 422
    assert answer["kept"] is True
    assert {e["pointer"] for e in answer["errors"]} == {"/payload/asset/snapshot/status/phase"}
    assert await queue_is_empty(everything)
    rejected = await declared_queue(channel, Topology(exchange).rejected_queue)
    kept = await rejected.get(timeout=5)
    await kept.ack()
    assert kept.message_id == document["id"]
    assert kept.headers[CAUSE_HEADER] == "invalid-delivery"
    assert "/payload/asset/snapshot/status/phase" in str(kept.headers[REASON_HEADER])
