"""The AsyncAPI document says what taskhook really publishes, and the committed copy is current.

That it is a valid AsyncAPI 3.0 document is checked by the official parser in `make check`
(scripts/asyncapi/validate.mjs); these tests hold it to the messages the code builds.
"""

import re
from typing import Any, get_args

import jsonschema
import orjson
import pytest

from taskhook.broker.confirmed import amqp_properties
from taskhook.broker.topology import DEFAULT_EXCHANGE, Topology
from taskhook.cli.serve import ASYNCAPI_PATH, asyncapi_text
from taskhook.core.contract import asyncapi_document
from taskhook.core.contract_families import FAMILY_CHANNELS
from taskhook.core.delivery import validate_delivery
from taskhook.core.errors import BodyNotJson, DeliveryInvalid, FieldProblem
from taskhook.core.events import TASK_EVENTS
from taskhook.core.message import (
    OutgoingMessage,
    event_message,
    published_event_schema,
    rejected_message,
    routing_key,
)
from taskhook.core.recovery import FROM_DELIVERY_LOG, FROM_TASK_LIST
from taskhook.core.task import TaskType
from tests.support.deliveries import (
    family_sample_names,
    load_family_sample,
    load_sample,
    sample_names,
)

DOCUMENT = asyncapi_document(Topology(DEFAULT_EXCHANGE), version="1.2.3")
NON_TASK_EVENT = {
    "id": "a1",
    "webhookId": "w1",
    "createdAt": 1,
    "timestamp": 2,
    "event": "billing.usage",
    "payload": {"asset": {"id": "5b3c"}},
}


def resolve(pointer: str) -> Any:
    node: Any = DOCUMENT
    for part in pointer.removeprefix("#/").split("/"):
        node = node[part]
    return node


def problems(pointer: str, instance: object) -> list[str]:
    """What is wrong with ``instance`` by the schema at ``pointer``, its refs resolved within
    the document (an AsyncAPI Schema Object is a superset of JSON Schema draft 07)."""
    validator = jsonschema.Draft7Validator({**DOCUMENT, "$ref": pointer})
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]


def address_pattern(channel: str) -> re.Pattern[str]:
    """The channel's address as a regex: each {parameter} is one of its enum, or any word."""
    spec = DOCUMENT["channels"][channel]

    def parameter(match: re.Match[str]) -> str:
        enum = spec["parameters"][match.group(1)].get("enum")
        return f"(?:{'|'.join(map(re.escape, enum))})" if enum else r"[a-z0-9_.-]+"

    return re.compile(re.sub(r"\\\{(\w+)\\\}", parameter, re.escape(spec["address"])))


def message_of(channel: str, routing: str) -> str:
    """The one message a channel carries, checking the routing key fits its address."""
    assert address_pattern(channel).fullmatch(routing), (channel, routing)
    (message,) = DOCUMENT["channels"][channel]["messages"].values()
    return str(message["$ref"])


def assert_documented(message: OutgoingMessage, pointer: str) -> None:
    spec = resolve(pointer)
    assert problems(f"{pointer}/headers", dict(message.headers)) == []
    assert set(message.headers) <= set(spec["headers"]["properties"]), "an undocumented header"
    assert problems(f"{pointer}/payload", orjson.loads(message.body)) == []
    properties = spec["x-amqp-properties"]
    sent = amqp_properties(message)
    assert (sent.content_type, sent.app_id, sent.delivery_mode) == (
        properties["content_type"],
        properties["app_id"],
        properties["delivery_mode"],
    )


@pytest.mark.parametrize("name", sample_names())
def test_every_sample_is_published_as_the_document_says(name: str) -> None:
    message = event_message(validate_delivery(load_sample(name)), received_at_ms=1, reconciled=None)
    assert_documented(message, message_of("taskEvents", message.routing_key))


def test_a_reconciled_task_event_is_documented_too() -> None:
    delivery = validate_delivery(load_sample("task.completed.upload.json"))
    message = event_message(delivery, received_at_ms=1, reconciled=FROM_TASK_LIST)
    assert_documented(message, message_of("taskEvents", message.routing_key))


def test_an_event_of_no_known_family_is_published_as_the_document_says() -> None:
    message = event_message(validate_delivery(NON_TASK_EVENT), received_at_ms=1)
    assert_documented(message, message_of("otherEvents", message.routing_key))
    assert not address_pattern("taskEvents").fullmatch(message.routing_key)


@pytest.mark.parametrize("name", family_sample_names())
def test_every_family_s_sample_is_published_on_its_channel_as_the_document_says(
    name: str,
) -> None:
    delivery = validate_delivery(load_family_sample(name))
    message = event_message(delivery, received_at_ms=1, reconciled=FROM_DELIVERY_LOG)
    channel = FAMILY_CHANNELS[delivery.family.name][0]
    assert_documented(message, message_of(channel, message.routing_key))
    others = [c for c, _, _ in FAMILY_CHANNELS.values() if c not in (channel, "otherEvents")]
    assert not any(address_pattern(c).fullmatch(message.routing_key) for c in others)


@pytest.mark.parametrize("event", TASK_EVENTS)
@pytest.mark.parametrize("task_type", get_args(TaskType))
def test_the_task_channel_covers_every_routing_key_taskhook_makes(
    event: str, task_type: str
) -> None:
    assert address_pattern("taskEvents").fullmatch(routing_key(event, task_type))


@pytest.mark.parametrize(
    ("headers", "wrong"),
    [
        ({"task-id": "t", "task-type": "upload", "task-phase": "running"}, "webhook-id"),
        ({"webhook-id": "w", "task-type": "upload", "task-phase": "running"}, "task-id"),
        (
            {"webhook-id": "w", "task-id": "t", "task-type": "video", "task-phase": "failed"},
            "video",
        ),
        ({"webhook-id": "w", "task-id": "t", "task-type": "clip", "task-phase": "x"}, "'x'"),
        (
            {
                "webhook-id": "w",
                "task-id": "t",
                "task-type": "clip",
                "task-phase": "running",
                "project-id": "",
            },
            "non-empty",
        ),
    ],
)
def test_the_header_schema_refuses_what_taskhook_never_sends(
    headers: dict[str, str], wrong: str
) -> None:
    found = problems("#/components/messages/taskEvent/headers", headers)
    assert len(found) == 1
    assert wrong in found[0]


@pytest.mark.parametrize(
    "refusal",
    [
        BodyNotJson("the body is not valid JSON"),
        DeliveryInvalid((FieldProblem("/id", "Field required"),), context={}),
    ],
)
def test_a_refused_delivery_is_kept_as_the_document_says(
    refusal: BodyNotJson | DeliveryInvalid,
) -> None:
    message = rejected_message(b"{", refusal, queue="q", received_at_ms=1)
    headers = "#/components/messages/refused/headers"
    assert problems(headers, dict(message.headers)) == []
    assert set(message.headers) == set(resolve(headers)["properties"])


def test_the_body_schema_is_the_published_one_with_its_models_in_the_components() -> None:
    standalone = published_event_schema()
    assert DOCUMENT["components"]["schemas"].keys() == standalone["$defs"].keys()
    assert orjson.dumps(DOCUMENT["components"]["schemas"]).replace(
        b"#/components/schemas/", b"#/$defs/"
    ) == orjson.dumps(standalone["$defs"])


def test_the_broker_objects_are_named_after_the_exchange_given() -> None:
    text = orjson.dumps(asyncapi_document(Topology("studio.jobs"), version="1")).decode()
    assert DEFAULT_EXCHANGE not in text
    for name in ('"studio.jobs"', '"studio.jobs.unrouted"', '"studio.jobs.rejected"'):
        assert name in text


def test_the_committed_document_is_the_one_the_models_generate() -> None:
    assert ASYNCAPI_PATH.read_text() == asyncapi_text(), "run `make schema` and commit it"
