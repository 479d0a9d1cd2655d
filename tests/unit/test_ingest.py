"""``Ingest``, the endpoint's rules free of HTTP, with a fake publisher: what is published, what is
kept, and what is refused for each kind of delivery. That the real publisher keeps these promises
on the real broker is proven in tests/integration."""

from typing import Any

import orjson
import pytest

from taskhook.application.dedup import Outcome, PublishOnce
from taskhook.application.ingest import Ingest
from taskhook.core.errors import (
    BodyNotJson,
    DeliveryInvalid,
    DeliveryRefused,
    PublishFailed,
    SignatureInvalid,
)
from taskhook.core.message import CAUSE_HEADER, OutgoingMessage
from taskhook.core.signature import sign
from tests.support.deliveries import SECRET, load_sample, signed

NOW_MS = 1_800_000_000_000
REJECTED = "events.rejected"


class FakePublisher:
    """Records what it is asked to publish; fails on cue with the broker's own error."""

    ready = True
    blocked = False

    def __init__(self, *, events_fail: bool = False, rejected_fail: bool = False) -> None:
        self.events: list[OutgoingMessage] = []
        self.rejected: list[OutgoingMessage] = []
        self.events_fail = events_fail
        self.rejected_fail = rejected_fail

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def publish_event(self, message: OutgoingMessage) -> None:
        if self.events_fail:
            raise PublishFailed("publish-timeout", "no confirm")
        self.events.append(message)

    async def publish_rejected(self, message: OutgoingMessage) -> None:
        if self.rejected_fail:
            raise PublishFailed("broker-unavailable", "down")
        self.rejected.append(message)


def ingest(publisher: FakePublisher, *, secrets: tuple[bytes, ...] = (SECRET.encode(),)) -> Ingest:
    return Ingest(
        publisher,
        secrets=secrets,
        tolerance_ms=300_000,
        rejected_queue=REJECTED,
        publish_once=PublishOnce(100),
        clock_ms=lambda: NOW_MS,
    )


def signed_bytes(body: bytes, at_ms: int = NOW_MS) -> tuple[bytes, str]:
    return body, sign(body, SECRET.encode(), at_ms)


def sample(name: str = "task.completed.upload.json", **changes: Any) -> dict[str, Any]:
    return load_sample(name) | changes


async def test_a_valid_delivery_is_published_to_the_events_exchange_only() -> None:
    publisher = FakePublisher()
    body, headers = signed(sample(), at_ms=NOW_MS)
    receipt = await ingest(publisher).receive(body, headers["Livepeer-Signature"])
    assert receipt.outcome is Outcome.PUBLISHED
    assert [m.routing_key for m in publisher.events] == ["task.completed.upload"]
    assert publisher.events[0].message_id == sample()["id"]
    assert publisher.rejected == []


async def test_the_same_ingest_answers_a_retry_as_a_duplicate_without_publishing() -> None:
    publisher = FakePublisher()
    taking = ingest(publisher)
    body, headers = signed(sample(), at_ms=NOW_MS)
    await taking.receive(body, headers["Livepeer-Signature"])
    retried, retried_headers = signed(sample(), at_ms=NOW_MS + 60_000)
    receipt = await taking.receive(retried, retried_headers["Livepeer-Signature"])
    assert receipt.outcome is Outcome.DUPLICATE
    assert len(publisher.events) == 1


@pytest.mark.parametrize(
    ("header", "cause"),
    [
        (None, "signature-missing"),
        ("t=1,v1=zz", "signature-malformed"),
        (sign(b"other bytes", SECRET.encode(), NOW_MS), "signature-mismatch"),
        (sign(orjson.dumps(sample()), b"another secret", NOW_MS), "signature-mismatch"),
    ],
)
async def test_what_is_not_provably_livepeers_is_refused_and_nothing_is_kept(
    header: str | None, cause: str
) -> None:
    publisher = FakePublisher()
    with pytest.raises(SignatureInvalid) as refused:
        await ingest(publisher).receive(orjson.dumps(sample()), header)
    assert refused.value.cause == cause
    assert (publisher.events, publisher.rejected) == ([], [])


async def test_a_stale_signature_is_refused_as_expired() -> None:
    publisher = FakePublisher()
    body, header = signed_bytes(orjson.dumps(sample()), at_ms=NOW_MS - 3_600_000)
    with pytest.raises(SignatureInvalid) as refused:
        await ingest(publisher).receive(body, header)
    assert refused.value.cause == "signature-expired"


async def test_a_body_timestamp_other_than_the_signed_one_is_refused() -> None:
    publisher = FakePublisher()
    body, header = signed_bytes(orjson.dumps(sample(timestamp=NOW_MS - 1)))
    with pytest.raises(SignatureInvalid) as refused:
        await ingest(publisher).receive(body, header)
    assert refused.value.cause == "timestamp-mismatch"
    assert publisher.rejected == []


@pytest.mark.parametrize(
    ("body", "refusal", "cause"),
    [
        (b"{not json", BodyNotJson, "invalid-json"),
        (
            orjson.dumps(sample(timestamp=NOW_MS, payload={"task": {}})),
            DeliveryInvalid,
            "invalid-delivery",
        ),
    ],
)
async def test_a_signed_delivery_that_fails_its_checks_is_kept_before_it_is_refused(
    body: bytes, refusal: type[DeliveryRefused], cause: str
) -> None:
    publisher = FakePublisher()
    with pytest.raises(refusal):
        await ingest(publisher).receive(*signed_bytes(body))
    assert publisher.events == []
    (kept,) = publisher.rejected
    assert (kept.routing_key, kept.body, kept.headers[CAUSE_HEADER]) == (REJECTED, body, cause)


async def test_a_refused_delivery_that_cannot_be_kept_fails_so_the_sender_retries() -> None:
    publisher = FakePublisher(rejected_fail=True)
    with pytest.raises(PublishFailed):
        await ingest(publisher).receive(*signed_bytes(b"{not json"))


async def test_a_publish_that_failed_is_not_remembered_so_the_retry_publishes() -> None:
    failing = FakePublisher(events_fail=True)
    taking = ingest(failing)
    body, headers = signed(sample(), at_ms=NOW_MS)
    with pytest.raises(PublishFailed):
        await taking.receive(body, headers["Livepeer-Signature"])
    failing.events_fail = False
    receipt = await taking.receive(body, headers["Livepeer-Signature"])
    assert receipt.outcome is Outcome.PUBLISHED
    assert len(failing.events) == 1


async def test_without_secrets_a_delivery_is_taken_unsigned() -> None:
    publisher = FakePublisher()
    receipt = await ingest(publisher, secrets=()).receive(orjson.dumps(sample()), None)
    assert receipt.outcome is Outcome.PUBLISHED
    assert len(publisher.events) == 1
