"""What the tasks consumer keeps of an asset event, and which event class a consumer gets."""

import copy
from typing import Any

import orjson
import pytest
from pydantic import TypeAdapter

from taskhook.consumers.events import (
    AnyEvent,
    AssetEvent,
    OtherEvent,
    RecordingEvent,
    StreamEvent,
    TaskEvent,
    event_type_for,
)
from taskhook.core.delivery import validate_delivery
from taskhook.core.message import event_message
from taskhook.tasks.asset_records import asset_record_of
from tests.support.deliveries import family_sample_names, load_family_sample, load_sample


def as_event(document: dict[str, Any]) -> AssetEvent:
    return AssetEvent.model_validate_json(event_message(validate_delivery(document)).body)


def test_a_ready_asset_keeps_its_playback_id_and_media() -> None:
    record = asset_record_of(as_event(load_family_sample("asset.ready.legacy.json")))
    assert (record.phase, record.playback_id, record.source_type) == (
        "ready",
        "3c9fx8k2m1q7w4ze",
        "url",
    )
    assert record.outputs == {
        "playbackUrl": "https://livepeercdn.studio/hls/3c9fx8k2m1q7w4ze/index.m3u8",
        "downloadUrl": "https://livepeercdn.studio/asset/3c9fx8k2m1q7w4ze/video/download.mp4",
        "size": 84934509,
        "duration": 23.8328,
        "format": "mp4",
        "tracks": [
            {"type": "video", "codec": "h264", "resolution": "1920x1080"},
            {"type": "audio", "codec": "aac", "resolution": None},
        ],
    }


def test_an_asset_without_media_yet_has_no_outputs() -> None:
    record = asset_record_of(as_event(load_family_sample("asset.created.json")))
    assert (record.phase, record.outputs) == ("waiting", None)


def test_a_failed_asset_keeps_its_error() -> None:
    record = asset_record_of(as_event(load_family_sample("asset.failed.json")))
    assert record.phase == "failed"
    assert record.error_message


def test_a_deletion_is_a_newer_state_than_the_snapshot_it_carries() -> None:
    deleted = load_family_sample("asset.deleted.json")
    ready = asset_record_of(as_event(load_family_sample("asset.ready.json")))
    record = asset_record_of(as_event(deleted))
    assert record.phase == "deleted"
    assert record.updated_at == deleted["createdAt"]
    assert record.version > ready.version


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        (("processing", 10), ("ready", 10)),  # the same instant: the further phase
        (("ready", 10), ("processing", 11)),  # a later write wins, whatever its phase
        (("waiting", 10), ("failed", 10)),
    ],
)
def test_versions_order_states_as_the_store_does(
    earlier: tuple[str, int], later: tuple[str, int]
) -> None:
    def version(phase: str, at: int) -> tuple[int, int]:
        document = copy.deepcopy(load_family_sample("asset.updated.json"))
        document["payload"]["asset"]["snapshot"]["status"] = {"phase": phase, "updatedAt": at}
        return asset_record_of(as_event(document)).version

    assert version(*earlier) < version(*later)


@pytest.mark.parametrize(
    ("bindings", "expected"),
    [
        (("asset.ready",), AssetEvent),
        (("asset.#",), AssetEvent),
        (("asset.ready", "asset.failed"), AssetEvent),
        (("task.completed.*",), TaskEvent),
        (("task.completed.upload",), TaskEvent),
        (("stream.started", "stream.idle"), StreamEvent),
        (("recording.ready",), RecordingEvent),
        (("stream.#",), AnyEvent),  # a stream event of tomorrow is published with the open model
        (("task.#", "asset.#"), AnyEvent),
        (("#",), AnyEvent),
        (("*.ready",), AnyEvent),
        (("billing.usage",), AnyEvent),
    ],
)
def test_a_consumer_gets_its_family_s_class_when_its_bindings_allow_only_one(
    bindings: tuple[str, ...], expected: Any
) -> None:
    assert event_type_for(bindings) == expected


@pytest.mark.parametrize("name", family_sample_names())
def test_any_event_reads_each_message_as_its_own_family_s_class(name: str) -> None:
    document = load_family_sample(name)
    body = event_message(validate_delivery(document)).body
    event = TypeAdapter(AnyEvent).validate_json(body)
    assert type(event) is event_type_for((document["event"],))


def test_any_event_reads_task_and_unknown_events_too() -> None:
    adapter = TypeAdapter(AnyEvent)
    task = event_message(validate_delivery(load_sample("task.completed.upload.json"))).body
    other = orjson.dumps({"id": "e", "event": "billing.usage", "webhookId": "w", "createdAt": 1})
    assert type(adapter.validate_json(task)) is TaskEvent
    assert type(adapter.validate_json(other)) is OtherEvent
