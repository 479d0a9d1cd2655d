from typing import Any

import jsonschema
import orjson
import pytest

from taskhook.cli.serve import SCHEMA_PATH
from taskhook.core.delivery import validate_delivery
from taskhook.core.errors import BodyNotJson, DeliveryInvalid, FieldProblem
from taskhook.core.limits import MAX_HEADER_CHARS
from taskhook.core.message import (
    event_message,
    published_event_schema,
    rejected_message,
    routing_key,
)
from tests.support.deliveries import load_sample, sample_names

ABSENT = object()


@pytest.mark.parametrize(
    ("event", "task_type", "expected"),
    [
        ("task.completed", "upload", "task.completed.upload"),
        ("task.updated", "transcode-file", "task.updated.transcode-file"),
        ("task.failed", "export-data", "task.failed.export-data"),
        ("task.spawned", "import", "task.spawned.import"),
        ("asset.ready", None, "asset.ready"),
        ("playback.user.new", None, "playback.user.new"),
    ],
)
def test_the_routing_key_is_event_then_task_type(
    event: str, task_type: str | None, expected: str
) -> None:
    assert routing_key(event, task_type) == expected


@pytest.mark.parametrize("name", sample_names())
def test_a_task_event_message_carries_the_snapshot_as_received(name: str) -> None:
    document = load_sample(name)
    message = event_message(validate_delivery(document))
    body = orjson.loads(message.body)
    payload = document["payload"]
    assert message.routing_key == f"{document['event']}.{payload['task']['type']}"
    assert message.message_id == document["id"]
    assert message.type == document["event"]
    assert message.timestamp_ms == document["createdAt"]
    assert message.headers == {
        "webhook-id": document["webhookId"],
        "task-id": payload["task"]["id"],
        "task-type": payload["task"]["type"],
        "task-phase": payload["task"]["snapshot"]["status"]["phase"],
        "project-id": payload["task"]["snapshot"]["projectId"],
    }
    assert body["task"] == payload["task"]["snapshot"]
    assert {k: body[k] for k in ("id", "event", "webhookId", "createdAt")} == {
        k: document[k] for k in ("id", "event", "webhookId", "createdAt")
    }
    assert ("success" in body) == ("success" in payload)
    assert "timestamp" not in body  # differs on every retry; the same event keeps one body


@pytest.mark.parametrize(
    ("project_id", "header"),
    [
        ("831da63b-4eab-4437-8906-80406000cc41", "831da63b-4eab-4437-8906-80406000cc41"),
        ("p", "p"),
        ("é" * MAX_HEADER_CHARS, "é" * MAX_HEADER_CHARS),  # the limit counts characters
        ("x" * (MAX_HEADER_CHARS + 1), None),  # cut, it would name another project
        ("", None),
        (None, None),  # sent as null
        (ABSENT, None),  # older tasks have none
    ],
)
def test_the_project_id_header_is_the_snapshots_project_when_it_has_one(
    project_id: object, header: str | None
) -> None:
    document = load_sample("task.completed.upload.json")
    snapshot = document["payload"]["task"]["snapshot"]
    del snapshot["projectId"]
    if project_id is not ABSENT:
        snapshot["projectId"] = project_id
    message = event_message(validate_delivery(document))
    assert message.headers.get("project-id") == header
    assert ("project-id" in message.headers) == (header is not None)
    assert orjson.loads(message.body)["task"] == snapshot  # the body keeps it whatever its size


def test_unknown_keys_in_the_snapshot_are_published_untouched() -> None:
    document = load_sample("task.completed.upload.json")
    snapshot = document["payload"]["task"]["snapshot"]
    snapshot["futureField"] = {"nested": [1, 2.5, None]}
    snapshot["output"]["upload"]["assetSpec"]["videoSpec"]["tracks"][0]["hdr"] = "pq"
    body = orjson.loads(event_message(validate_delivery(document)).body)
    assert body["task"] == snapshot
    assert body["task"]["futureField"] == {"nested": [1, 2.5, None]}


def test_a_non_task_event_passes_its_payload_and_stream_through() -> None:
    document = {
        "id": "a1",
        "webhookId": "w1",
        "createdAt": 1,
        "timestamp": 2,
        "event": "stream.started",
        "stream": {"id": "s1", "name": "x"},
        "payload": {"anything": True},
    }
    message = event_message(validate_delivery(document))
    assert message.routing_key == "stream.started"
    assert message.headers == {"webhook-id": "w1", "stream-id": "s1"}
    assert orjson.loads(message.body) == {
        "id": "a1",
        "event": "stream.started",
        "webhookId": "w1",
        "createdAt": 1,
        "stream": {"id": "s1", "name": "x"},
        "payload": {"anything": True},
    }


@pytest.mark.parametrize("name", sample_names())
def test_every_published_body_matches_the_documented_schema(name: str) -> None:
    body = orjson.loads(event_message(validate_delivery(load_sample(name))).body)
    validator = jsonschema.Draft202012Validator(published_event_schema())
    assert [error.message for error in validator.iter_errors(body)] == []


def test_the_committed_schema_file_is_the_one_the_models_generate() -> None:
    committed: dict[str, Any] = orjson.loads(SCHEMA_PATH.read_bytes())
    assert committed == published_event_schema(), "run `make schema` and commit the file"


def test_a_rejected_message_keeps_the_raw_bytes_and_says_why() -> None:
    raw = b'{"id":"e9","event":"task.updated","payload":{}}'
    refusal = DeliveryInvalid(
        (FieldProblem("/payload/task", "Field required"), FieldProblem("", "x" * 2000)),
        context={"event_id": "e9", "event": "task.updated"},
    )
    message = rejected_message(raw, refusal, queue="q.rejected", received_at_ms=42)
    assert message.body == raw
    assert message.routing_key == "q.rejected"
    assert message.message_id == "e9"
    assert message.type == "task.updated"
    assert message.timestamp_ms == 42
    assert message.content_type == "application/json"
    assert message.headers["x-taskhook-cause"] == "invalid-delivery"
    reason = str(message.headers["x-taskhook-reason"])
    assert reason.startswith("/payload/task: Field required; /: x")
    assert len(reason) == MAX_HEADER_CHARS


def test_a_rejected_body_without_an_id_gets_one_from_its_bytes() -> None:
    first = rejected_message(b"{nope", BodyNotJson("bad"), queue="q", received_at_ms=1)
    again = rejected_message(b"{nope", BodyNotJson("bad"), queue="q", received_at_ms=2)
    other = rejected_message(b"{nope!", BodyNotJson("bad"), queue="q", received_at_ms=1)
    assert first.message_id == again.message_id != other.message_id
    assert first.content_type == "application/octet-stream"
    assert first.headers == {"x-taskhook-cause": "invalid-json", "x-taskhook-reason": "bad"}
