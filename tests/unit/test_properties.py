"""Properties that must hold for any input a stranger can send, not just the cases we thought of."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskhook.core.delivery import parse_body, validate_delivery
from taskhook.core.errors import BodyNotJson, DeliveryInvalid, FieldProblem, SignatureInvalid
from taskhook.core.signature import sign, verify_signature
from taskhook.core.wire import MAX_MILLIS
from tests.support.deliveries import load_sample
from tests.support.strategies import near_valid_deliveries, valid_deliveries

NOW = 1_726_570_090_233

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(header=st.text(max_size=200), body=st.binary(max_size=200))
def test_any_header_is_either_accepted_or_refused_as_a_signature_problem(
    header: str, body: bytes
) -> None:
    refusal: SignatureInvalid | None = None
    try:
        verify_signature(header, body, secrets=[b"s"], now_ms=NOW, tolerance_ms=300_000)
    except SignatureInvalid as refused:
        refusal = refused
    assert refusal is None or refusal.cause.startswith("signature-")


@given(body=st.binary(max_size=500), secret=st.binary(min_size=1, max_size=64))
def test_what_the_sender_signs_verifies(body: bytes, secret: bytes) -> None:
    header = sign(body, secret, NOW)
    assert verify_signature(header, body, secrets=[secret], now_ms=NOW, tolerance_ms=0) == NOW


@given(body=st.binary(max_size=300))
def test_any_bytes_parse_or_are_refused_as_not_json(body: bytes) -> None:
    refusal: BodyNotJson | None = None
    try:
        parse_body(body)
    except BodyNotJson as refused:
        refusal = refused
    assert refusal is None or refusal.cause == "invalid-json"


@given(
    document=st.fixed_dictionaries(
        {"event": st.sampled_from(["task.updated", "task.completed", "asset.ready", "x"])},
        optional={
            "id": json_values,
            "webhookId": json_values,
            "createdAt": json_values,
            "timestamp": json_values,
            "payload": json_values,
        },
    )
)
def test_any_json_object_validates_or_is_refused_with_pointers(document: dict[str, Any]) -> None:
    try:
        assert validate_delivery(document).document is document
    except DeliveryInvalid as refused:
        problems = refused.problems
        assert problems, "a refusal names at least one field"
        assert all(p.pointer == "" or p.pointer.startswith("/") for p in problems)


@settings(max_examples=200, deadline=None)
@given(document=valid_deliveries())
def test_any_delivery_the_sender_could_send_validates_and_is_passed_through_whole(
    document: dict[str, Any],
) -> None:
    delivery = validate_delivery(document)
    assert delivery.document is document
    assert delivery.envelope.id == document["id"]


@settings(max_examples=300, deadline=None)
@given(case=near_valid_deliveries())
def test_a_delivery_one_field_away_from_valid_is_refused_naming_that_field_or_passes(
    case: tuple[dict[str, Any], str, str],
) -> None:
    document, changed, _ = case
    problems: tuple[FieldProblem, ...] = ()
    try:
        validate_delivery(document)
    except DeliveryInvalid as refused:
        problems = refused.problems
    except Exception as error:  # anything else would be a 500 at the endpoint
        raise AssertionError(f"{type(error).__name__} for {changed}") from error
    pointers = [p.pointer for p in problems]
    # Refused or not; if refused, the refusal names the changed field, a field inside it, or an
    # object that holds it (a union such as `output` reports the object that no longer fits).
    assert not problems or any(changed.startswith(p) or p.startswith(changed) for p in pointers)
    assert all(p.detail for p in problems)


@pytest.mark.parametrize("where", ["snapshot", "exportData content"])
def test_nesting_too_deep_to_publish_is_refused_as_invalid_not_a_crash(where: str) -> None:
    document = load_sample("task.spawned.upload.json")
    deep: Any = "bottom"
    for _ in range(300):  # orjson reads 1024 levels but writes only 254
        deep = [deep]
    snapshot = document["payload"]["task"]["snapshot"]
    if where == "snapshot":
        snapshot["x"] = deep
    else:
        snapshot.setdefault("params", {})["exportData"] = {"content": {"deep": deep}}
    with pytest.raises(DeliveryInvalid) as refused:
        validate_delivery(document)
    assert refused.value.problems[0].detail == "nested too deeply to be published"


@pytest.mark.parametrize("field", ["createdAt", "timestamp"])
def test_a_time_past_year_9999_is_refused_as_invalid_not_a_crash(field: str) -> None:
    document = load_sample("task.spawned.upload.json")
    document[field] = MAX_MILLIS + 1
    with pytest.raises(DeliveryInvalid) as refused:
        validate_delivery(document)
    assert [p.pointer for p in refused.value.problems] == [f"/{field}"]
    document[field] = MAX_MILLIS
    validate_delivery(document)


def test_an_event_id_too_long_for_an_amqp_message_id_is_refused_and_its_context_fits() -> None:
    document = load_sample("task.spawned.upload.json")
    document["id"] = "\U0001f3fb" * 100  # 100 characters, 400 bytes
    document["event"] = "\u00e9" * 200
    with pytest.raises(DeliveryInvalid) as refused:
        validate_delivery(document)
    assert "/id" in [p.pointer for p in refused.value.problems]
    assert all(len(v.encode()) <= 255 for v in refused.value.context.values())
