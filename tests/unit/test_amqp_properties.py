"""A publish writes the properties pamqp would write for ``amqp_properties(message)``, byte for
byte, without building pamqp's object (``MessageProperties``)."""

from dataclasses import replace
from typing import Any

import orjson
import pytest

from taskhook.broker.confirmed import MessageProperties, amqp_properties
from taskhook.core.delivery import parse_body, validate_delivery
from taskhook.core.errors import BodyNotJson
from taskhook.core.message import OutgoingMessage, event_message, rejected_message
from tests.support.deliveries import load_sample


def _event() -> OutgoingMessage:
    body = orjson.dumps(load_sample("task.completed.upload.json"))
    return event_message(validate_delivery(parse_body(body)), received_at_ms=1)


def test_every_kind_of_message_taskhook_publishes_is_written_as_pamqp_would() -> None:
    delivery = validate_delivery(
        parse_body(orjson.dumps(load_sample("task.completed.upload.json")))
    )
    messages = [
        event_message(delivery, received_at_ms=1_764_800_000_123, reconciled="delivery-log"),
        event_message(delivery),
        rejected_message(b"{", BodyNotJson("not json"), queue="q", received_at_ms=1),
    ]
    for message in messages:
        assert MessageProperties(message).marshal() == amqp_properties(message).marshal()


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"timestamp_ms": None},
        {"timestamp_ms": 0},
        {"timestamp_ms": 1_764_800_000_999},
        {"headers": {}},
        {"headers": {"b": "two", "a": "one", "é": "ünïcödé"}},
        {"headers": {"s": ""}},
        {"headers": {"count": 3, "flag": True, "none": None, "nested": {"k": "v"}, "s": "x"}},
        {"headers": {"list": ["a", 1], "big": 2**40, "neg": -5}},
        {"headers": {"x-death": [{"count": 1, "queue": "q"}], "x-delivery-count": 2}},
        {"headers": {"k" * 200: "a key pamqp cuts to 128 bytes"}},
        {"content_type": "", "type": "", "app_id": "", "message_id": ""},
        {"message_id": "é" * 100},
        {"app_id": "another-app", "content_type": "application/octet-stream"},
    ],
)
def test_a_publish_writes_what_pamqp_writes(changes: dict[str, Any]) -> None:
    message = replace(_event(), **changes)
    written = MessageProperties(message)
    assert written.marshal() == amqp_properties(message).marshal()
    assert written.message_id == message.message_id


def test_a_short_string_too_long_for_amqp_is_refused_as_pamqp_refuses_it() -> None:
    message = replace(_event(), message_id="x" * 256)
    with pytest.raises(TypeError, match="255 bytes"):
        amqp_properties(message).marshal()
    with pytest.raises(TypeError, match="255 bytes"):
        MessageProperties(message).marshal()
