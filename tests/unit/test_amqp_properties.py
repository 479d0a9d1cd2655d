"""taskhook's marshalling of message properties writes exactly the bytes pamqp's own does."""

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from pamqp import commands as spec

from taskhook.broker.confirmed import MessageProperties, Properties, amqp_properties
from taskhook.core.delivery import parse_body, validate_delivery
from taskhook.core.errors import BodyNotJson
from taskhook.core.message import event_message, rejected_message
from tests.support.deliveries import load_sample

WHEN = datetime(2026, 12, 5, 9, 0, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"content_type": "application/json", "delivery_mode": 2, "message_id": "id-1"},
        {"headers": {}},
        {"headers": {"b": "two", "a": "one", "é": "ünïcödé"}},
        {"headers": {"count": 3, "flag": True, "none": None, "nested": {"k": "v"}, "s": "x"}},
        {"headers": {"list": ["a", 1], "big": 2**40, "neg": -5}},
        {"headers": {"k" * 200: "a key pamqp cuts to 128 bytes"}},
        {"headers": {"s": ""}, "message_type": "", "app_id": "taskhook"},
        {"timestamp": WHEN, "priority": 5, "correlation_id": "c", "reply_to": "r"},
        {"expiration": "60000", "user_id": "guest", "content_encoding": "gzip"},
    ],
)
def test_the_bytes_are_pamqps(fields: dict[str, Any]) -> None:
    assert Properties(**fields).marshal() == spec.Basic.Properties(**fields).marshal()


def test_every_message_taskhook_publishes_is_marshalled_as_pamqp_would() -> None:
    delivery = validate_delivery(parse_body(_sample_bytes()))
    messages = [
        event_message(delivery, received_at_ms=1_764_800_000_123, reconciled="delivery-log"),
        event_message(delivery),
        rejected_message(b"{", BodyNotJson("not json"), queue="q", received_at_ms=1),
    ]
    for message in messages:
        ours = amqp_properties(message)
        theirs = spec.Basic.Properties(**{name: getattr(ours, name) for name in ours.__slots__})
        assert ours.marshal() == theirs.marshal()
        assert MessageProperties(message).marshal() == theirs.marshal(), message.type


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"timestamp_ms": None},
        {"timestamp_ms": 0},
        {"timestamp_ms": 1_764_800_000_999},
        {"headers": {}},
        {"headers": {"count": 3, "x-death": [{"count": 1}]}},
        {"headers": {"b": "two", "a": "ünïcödé"}},
        {"content_type": "", "type": "", "app_id": "", "message_id": ""},
        {"message_id": "é" * 100},
        {"app_id": "another-app", "content_type": "application/octet-stream"},
    ],
)
def test_a_publish_writes_the_properties_amqp_properties_gives(changes: dict[str, Any]) -> None:
    base = event_message(validate_delivery(parse_body(_sample_bytes())), received_at_ms=1)
    message = replace(base, **changes)
    written = MessageProperties(message)
    assert written.marshal() == amqp_properties(message).marshal()
    assert written.message_id == message.message_id


def _sample_bytes() -> bytes:
    import orjson

    return orjson.dumps(load_sample("task.completed.upload.json"))
