"""The event families: which model checks each event, the asset's two shapes, what is refused,
and the headers each family's message carries."""

import copy
from typing import Any

import orjson
import pytest

from taskhook.core.delivery import validate_delivery
from taskhook.core.errors import DeliveryInvalid
from taskhook.core.families import (
    ASSET,
    MULTISTREAM,
    OTHER,
    PLAYBACK,
    RECORDING,
    STREAM,
    TASK,
    Family,
    family_of,
)
from taskhook.core.message import event_message
from tests.support.deliveries import family_sample_names, load_family_sample


@pytest.mark.parametrize(
    ("event", "family"),
    [
        ("task.completed", TASK),
        ("task.someday", TASK),  # every task.* payload is built in one place
        ("asset.ready", ASSET),
        ("asset.someday", ASSET),
        ("stream.started", STREAM),
        ("stream.someday", OTHER),  # open families: a body never seen is still accepted
        ("recording.ready", RECORDING),
        ("multistream.error", MULTISTREAM),
        ("playback.user.new", PLAYBACK),
        ("playback.accessControl", OTHER),  # never sent as an event
        ("billing.usage", OTHER),
        ("task", OTHER),
        ("", OTHER),
        (None, OTHER),
        (["asset.ready"], OTHER),  # unhashable: still no exception
    ],
)
def test_each_event_name_finds_its_family(event: object, family: Family) -> None:
    assert family_of(event) is family


@pytest.mark.parametrize("name", family_sample_names())
def test_every_family_sample_passes_its_family_s_model(name: str) -> None:
    document = load_family_sample(name)
    delivery = validate_delivery(document)
    assert delivery.family is family_of(document["event"])
    assert delivery.family is not OTHER


def asset_ready(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(load_family_sample("asset.ready.json"))
    document["payload"]["asset"]["snapshot"].update(changes)
    return document


def published_body(document: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(event_message(validate_delivery(document)).body)
    return body


@pytest.mark.parametrize(
    "name", ["asset.ready.legacy.json", "asset.ready.flattened.json", "asset.ready.json"]
)
def test_both_asset_shapes_publish_the_snapshot_alone_under_asset(name: str) -> None:
    document = load_family_sample(name)
    body = published_body(document)
    assert set(body) == {"id", "event", "webhookId", "createdAt", "asset"}
    nested = load_family_sample("asset.ready.json")["payload"]["asset"]["snapshot"]
    assert body["asset"] == nested


def test_an_asset_s_source_url_is_published_without_its_credentials() -> None:
    url = "https://user:secret@bucket.example.com/filename.mp4?X-Amz-Signature=abc"
    body = published_body(asset_ready(source={"type": "url", "url": url}))
    assert body["asset"]["source"]["url"] == (
        "https://***:***@bucket.example.com/filename.mp4?REDACTED"
    )


def problem_pointers(document: dict[str, Any]) -> set[str]:
    with pytest.raises(DeliveryInvalid) as refused:
        validate_delivery(document)
    return {problem.pointer for problem in refused.value.problems}


def changed(document: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    document = copy.deepcopy(document)
    *parents, last = path.split(".")
    node = document
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return document


READY = load_family_sample("asset.ready.json")
SNAPSHOT = "payload.asset.snapshot"


@pytest.mark.parametrize(
    ("document", "pointer"),
    [
        (
            changed(READY, f"{SNAPSHOT}.status.phase", "finished"),
            "/payload/asset/snapshot/status/phase",
        ),
        (changed(READY, f"{SNAPSHOT}.status.phase", "processing"), "/payload"),  # ready, not ready
        (changed(READY, f"{SNAPSHOT}.status", KeyError), "/payload/asset/snapshot/status"),
        (
            changed(READY, f"{SNAPSHOT}.status.updatedAt", "1"),
            "/payload/asset/snapshot/status/updatedAt",
        ),
        (changed(READY, f"{SNAPSHOT}.id", "someone-else"), "/payload/asset"),
        (changed(READY, f"{SNAPSHOT}.type", "image"), "/payload/asset/snapshot/type"),
        (
            changed(READY, f"{SNAPSHOT}.source", {"type": "ftp"}),
            "/payload/asset/snapshot/source/type",
        ),
        (
            changed(READY, f"{SNAPSHOT}.playbackPolicy", {"type": "open"}),
            "/payload/asset/snapshot/playbackPolicy/type",
        ),
        (changed(READY, "payload", {}), "/payload/asset"),
        # The oldest flattened shape had an empty snapshot: nothing to route on.
        (changed(READY, "payload", {"id": "x", "snapshot": {}}), "/payload/asset/snapshot/id"),
        (changed(load_family_sample("stream.started.json"), "stream", KeyError), "/stream"),
        (
            changed(
                load_family_sample("recording.ready.json"),
                "payload.session.recordingStatus",
                "done",
            ),
            "/payload/session/recordingStatus",
        ),
        (
            changed(load_family_sample("multistream.error.json"), "payload.target", KeyError),
            "/payload/target",
        ),
    ],
)
def test_a_body_that_fails_its_family_s_model_names_the_field(
    document: dict[str, Any], pointer: str
) -> None:
    assert pointer in problem_pointers(document)


@pytest.mark.parametrize(
    "document",
    [
        changed(READY, f"{SNAPSHOT}.somethingNew", {"deep": [1, 2]}),
        changed(
            READY, f"{SNAPSHOT}.name", KeyError
        ),  # the schema requires it; the code may omit it
        changed(READY, f"{SNAPSHOT}.source", KeyError),  # likewise
        changed(load_family_sample("playback.user.new.json"), "payload", {"anything": True}),
        changed(load_family_sample("multistream.connected.json"), "stream", KeyError),
    ],
)
def test_unknown_and_omitted_fields_are_accepted(document: dict[str, Any]) -> None:
    assert validate_delivery(document).envelope.id == document["id"]


@pytest.mark.parametrize(
    ("name", "headers"),
    [
        (
            "asset.ready.legacy.json",
            {
                "asset-id": "3c9f2d1e-8b7a-4c6d-9e5f-1a2b3c4d5e6f",
                "asset-phase": "ready",
                "playback-id": "3c9fx8k2m1q7w4ze",
                "project-id": "aac12556-4d65-4d34-9fb6-d1f0985eb0a9",
            },
        ),
        (
            "recording.ready.json",
            {
                "stream-id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                "playback-id": "9a8bq2w3e4r5t6y7",
                "project-id": "aac12556-4d65-4d34-9fb6-d1f0985eb0a9",
                "session-id": "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
                "asset-id": "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
            },
        ),
        (
            "multistream.error.json",
            {
                "stream-id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                "playback-id": "9a8bq2w3e4r5t6y7",
                "project-id": "aac12556-4d65-4d34-9fb6-d1f0985eb0a9",
                "multistream-target-id": "0b7c5e2a-9d41-4f3e-8a6b-2c1d0e9f8a7b",
            },
        ),
    ],
)
def test_each_family_s_message_names_its_subjects_in_headers(
    name: str, headers: dict[str, str]
) -> None:
    document = load_family_sample(name)
    message = event_message(validate_delivery(document))
    assert dict(message.headers) == {"webhook-id": document["webhookId"], **headers}
    assert message.routing_key == document["event"]


def test_a_header_is_left_out_rather_than_cut() -> None:
    document = asset_ready(playbackId="x" * 2000, projectId="")
    headers = event_message(validate_delivery(document)).headers
    assert "playback-id" not in headers
    assert "project-id" not in headers
