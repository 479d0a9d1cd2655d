"""Properties that must hold for any input a stranger can send, not just the cases we thought of."""

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from service.core.delivery import parse_body, validate_delivery
from service.core.errors import BodyNotJson, DeliveryInvalid, SignatureInvalid
from service.core.signature import sign, verify_signature

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
