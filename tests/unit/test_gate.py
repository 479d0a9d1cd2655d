"""Livepeer's playback gate sent to taskhook by mistake: recognised by its shape, never kept,
warned about once a minute per webhook."""

import logging
from typing import Any

import orjson
import pytest

from taskhook.application.dedup import PublishOnce
from taskhook.application.ingest import Ingest
from taskhook.core.errors import AccessControlRequest
from taskhook.core.gate import GateWarnings, is_gate_request
from taskhook.core.signature import sign, signing_secret
from taskhook.tools.event_samples import gate_request
from tests.unit.test_ingest import FakePublisher

NOW_MS = 1_800_000_000_000
SECRETS = (b"old-secret", b"new-secret")


@pytest.mark.parametrize(
    ("document", "gate"),
    [
        (gate_request(1), True),
        ({"accessKey": "k", "timestamp": 1}, True),
        ({"context": {}, "accessKey": "k", "timestamp": 1, "webhookPayload": {}}, True),
        ({"accessKey": "k", "event": "asset.ready"}, False),  # a delivery, whatever else it has
        ({"context": {}, "timestamp": 1}, False),  # no accessKey: left to the model (422)
        ([{"accessKey": "k"}], False),
        ("accessKey", False),
        (None, False),
    ],
)
def test_a_gate_request_is_known_by_its_shape(document: object, gate: bool) -> None:
    assert is_gate_request(document) is gate


@pytest.mark.parametrize(
    ("requests", "warned"),
    [
        # (webhook key, ms) -> the count a warning reports, or None for no warning
        ([("a", 0), ("a", 1_000), ("a", 59_999), ("a", 60_000)], [1, None, None, 3]),
        ([("a", 0), ("b", 1), ("a", 2)], [1, 1, None]),
        ([("a", 0), ("a", 120_000)], [1, 1]),
    ],
)
def test_a_warning_is_due_at_most_once_a_minute_per_webhook(
    requests: list[tuple[str, int]], warned: list[int | None]
) -> None:
    warnings = GateWarnings()
    assert [warnings.due(key, at) for key, at in requests] == warned


@pytest.mark.parametrize(
    ("secret", "index"), [(b"old-secret", 0), (b"new-secret", 1), (b"another", None)]
)
def test_the_secret_that_signed_a_request_is_found_by_its_place(
    secret: bytes, index: int | None
) -> None:
    assert signing_secret(sign(b"{}", secret, 1), b"{}", secrets=SECRETS) == index


@pytest.mark.parametrize("header", [None, "", "t=1", "v1=zz"])
def test_no_secret_is_named_for_a_missing_or_malformed_header(header: str | None) -> None:
    assert signing_secret(header, b"{}", secrets=SECRETS) is None


def an_ingest(publisher: FakePublisher, clock: list[int]) -> Ingest:
    return Ingest(
        publisher,
        secrets=SECRETS,
        tolerance_ms=300_000,
        rejected_queue="rejected",
        publish_once=PublishOnce(100),
        clock_ms=lambda: clock[0],
    )


async def refused(ingest: Ingest, document: dict[str, Any], secret: bytes) -> str:
    body = orjson.dumps(document)
    with pytest.raises(AccessControlRequest) as refusal:
        await ingest.receive(body, sign(body, secret, document["timestamp"]))
    return refusal.value.cause


async def test_gate_requests_are_refused_unkept_and_warned_about_once_a_minute_per_webhook(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="taskhook.webhook")
    publisher, clock = FakePublisher(), [NOW_MS]
    ingest = an_ingest(publisher, clock)
    for second in range(90):
        clock[0] = NOW_MS + second * 1000
        for secret in SECRETS:
            assert await refused(ingest, gate_request(clock[0]), secret) == "access-control-request"

    assert publisher.events == publisher.rejected == []
    lines = [(r.__dict__["signed_by"], r.__dict__["requests"]) for r in caplog.records]
    assert lines == [("secret-1", 1), ("secret-2", 1), ("secret-1", 60), ("secret-2", 60)]
    assert all("access-control" in r.getMessage() for r in caplog.records)
    assert all("viewer-3f9a" not in r.getMessage() for r in caplog.records)  # no access key
