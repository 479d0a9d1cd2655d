from pathlib import Path
from typing import Any

import orjson
import pytest

from taskhook.core.delivery import (
    EventEnvelope,
    TaskEnvelope,
    check_signed_timestamp,
    parse_body,
    validate_delivery,
)
from taskhook.core.errors import BodyNotJson, DeliveryInvalid, SignatureInvalid
from tests.support.deliveries import load_sample, sample_names


def task_delivery(**changes: Any) -> dict[str, Any]:
    document = load_sample("task.completed.upload.json")
    document.update(changes)
    return document


def unknown_event() -> dict[str, Any]:
    return {
        "id": "a1",
        "webhookId": "w1",
        "createdAt": 1,
        "timestamp": 2,
        "event": "billing.usage",
        "payload": {"asset": {"id": "x", "anything": [1, 2]}},
    }


@pytest.mark.parametrize("name", sample_names())
def test_every_sample_is_a_valid_task_delivery(name: str) -> None:
    document = load_sample(name)
    delivery = validate_delivery(document)
    assert isinstance(delivery.envelope, TaskEnvelope)
    assert delivery.task is not None
    assert delivery.task.snapshot.id == document["payload"]["task"]["id"]
    assert delivery.document is document
    assert delivery.dedup_key == f"{document['webhookId']} {document['id']}"


def test_an_event_of_no_known_family_checks_the_envelope_and_passes_the_payload_through() -> None:
    delivery = validate_delivery(unknown_event())
    assert isinstance(delivery.envelope, EventEnvelope)
    assert delivery.task is None
    assert delivery.envelope.payload == {"asset": {"id": "x", "anything": [1, 2]}}


def pointers(error: DeliveryInvalid) -> set[str]:
    return {problem.pointer for problem in error.problems}


def without(document: dict[str, Any], *path: str) -> dict[str, Any]:
    node = document
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return document


def with_value(document: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return document


SNAPSHOT = ("payload", "task", "snapshot")


@pytest.mark.parametrize(
    ("document", "pointer"),
    [
        pytest.param(without(task_delivery(), "id"), "/id", id="no event id"),
        pytest.param(task_delivery(id=""), "/id", id="empty event id"),
        pytest.param(task_delivery(id=7), "/id", id="numeric event id"),
        pytest.param(without(task_delivery(), "webhookId"), "/webhookId", id="no webhookId"),
        pytest.param(task_delivery(createdAt="1726570090000"), "/createdAt", id="string time"),
        pytest.param(task_delivery(createdAt=-1), "/createdAt", id="negative time"),
        pytest.param(without(task_delivery(), "timestamp"), "/timestamp", id="no timestamp"),
        pytest.param(without(task_delivery(), "payload"), "/payload", id="task event, no payload"),
        pytest.param(
            without(task_delivery(), "payload", "success"), "/payload", id="completed, no success"
        ),
        pytest.param(
            with_value(task_delivery(), "yes", "payload", "success"),
            "/payload/success",
            id="success not a bool",
        ),
        pytest.param(
            with_value(task_delivery(), "render", "payload", "task", "type"),
            "/payload/task/type",
            id="unknown task type",
        ),
        pytest.param(
            with_value(task_delivery(), "other-id", "payload", "task", "id"),
            "/payload/task",
            id="snapshot of another task",
        ),
        pytest.param(
            with_value(task_delivery(), "done", *SNAPSHOT, "status", "phase"),
            "/payload/task/snapshot/status/phase",
            id="unknown phase",
        ),
        pytest.param(
            without(task_delivery(), *SNAPSHOT, "status", "updatedAt"),
            "/payload/task/snapshot/status/updatedAt",
            id="status without updatedAt",
        ),
        pytest.param(
            with_value(task_delivery(), 1.5, *SNAPSHOT, "status", "progress"),
            "/payload/task/snapshot/status/progress",
            id="progress above 1",
        ),
        pytest.param(task_delivery(event="Task Completed"), "/event", id="event not a key"),
        pytest.param(task_delivery(event="task.#"), "/event", id="wildcard in event"),
    ],
)
def test_a_delivery_that_breaks_the_model_names_the_failing_field(
    document: dict[str, Any], pointer: str
) -> None:
    with pytest.raises(DeliveryInvalid) as refused:
        validate_delivery(document)
    assert pointer in pointers(refused.value)


@pytest.mark.parametrize(
    "document", [[], "text", 5, None], ids=["array", "string", "number", "null"]
)
def test_json_that_is_not_an_object_is_an_invalid_delivery(document: object) -> None:
    with pytest.raises(DeliveryInvalid) as refused:
        validate_delivery(document)
    assert refused.value.problems
    assert refused.value.context == {}


def test_a_refusal_remembers_the_event_id_for_the_log_but_never_the_values() -> None:
    document = with_value(task_delivery(), "s3cr3t-value", *SNAPSHOT, "status", "phase")
    with pytest.raises(DeliveryInvalid) as refused:
        validate_delivery(document)
    assert refused.value.context == {"event_id": document["id"], "event": "task.completed"}
    assert "s3cr3t-value" not in repr([p.detail for p in refused.value.problems])


def test_a_json_pointer_escapes_slash_and_tilde() -> None:
    document = task_delivery()
    document["payload"]["task"]["snapshot"]["params"] = {
        "export": {"custom": {"url": "https://example.com", "headers": {"a/b~c": 1}}}
    }
    with pytest.raises(DeliveryInvalid) as refused:
        validate_delivery(document)
    assert "/payload/task/snapshot/params/export/custom/headers/a~1b~0c" in pointers(refused.value)


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b'{"a":1}x', b"\xff\xfe"], ids=repr)
def test_a_body_that_is_not_json_is_refused(body: bytes) -> None:
    with pytest.raises(BodyNotJson):
        parse_body(body)


def test_the_body_is_parsed_as_sent() -> None:
    assert parse_body(b'{"b":1,"a":[1.5,null]}') == {"b": 1, "a": [1.5, None]}


@pytest.mark.parametrize(
    ("document", "signed_at", "refused"),
    [
        pytest.param({"timestamp": 5}, 5, False, id="equal"),
        pytest.param({"timestamp": 5}, 6, True, id="different"),
        pytest.param({}, 6, False, id="missing: left to validation"),
        pytest.param({"timestamp": "5"}, 6, False, id="mistyped: left to validation"),
        pytest.param({"timestamp": True}, 1, False, id="bool is not a timestamp"),
        pytest.param([5], 5, False, id="not an object"),
    ],
)
def test_the_signed_t_must_equal_the_body_timestamp(
    document: object, signed_at: int, refused: bool
) -> None:
    if refused:
        with pytest.raises(SignatureInvalid) as error:
            check_signed_timestamp(document, signed_at)
        assert error.value.cause == "timestamp-mismatch"
    else:
        check_signed_timestamp(document, signed_at)


def test_the_older_task_shape_is_a_valid_delivery() -> None:
    document = task_delivery()
    document["payload"]["task"]["type"] = "import"
    snapshot = document["payload"]["task"]["snapshot"]
    snapshot["type"] = "import"
    snapshot["params"] = {"import": {"url": "https://example.com/a.mp4"}}
    snapshot["output"] = {
        "import": {"asset": {"videoFilePath": "v.mp4", "assetSpec": {"name": "a"}}}
    }
    snapshot["clip"] = {"url": "https://example.com/a.m3u8", "clipStrategy": {"startTime": 1}}
    delivery = validate_delivery(orjson.loads(orjson.dumps(document)))
    assert delivery.task is not None
    assert delivery.task.type == "import"


def test_the_docs_bad_phase_example_is_refused_for_its_phase_alone() -> None:
    """``docs/examples/bad-phase.json``, which docs/operations.md sends: a 422 for one field."""
    example = Path(__file__).parents[2] / "docs" / "examples" / "bad-phase.json"
    with pytest.raises(DeliveryInvalid) as refused:
        validate_delivery(parse_body(example.read_bytes()))
    assert [problem.pointer for problem in refused.value.problems] == [
        "/payload/task/snapshot/status/phase"
    ]
