"""``taskhook send``'s made-up deliveries of every family pass taskhook's own checks."""

import pytest

from taskhook.core.delivery import validate_delivery
from taskhook.core.families import family_of
from taskhook.core.gate import is_gate_request
from taskhook.tools.event_samples import (
    GATE_EVENT,
    SAMPLE_EVENTS,
    SampleSubject,
    event_delivery,
    life_of,
)
from taskhook.tools.send import sample_events

SUBJECT = SampleSubject("s1", "pb1", "w1", 1_735_689_600_000)


@pytest.mark.parametrize("event", [e for e in SAMPLE_EVENTS if e != GATE_EVENT])
@pytest.mark.parametrize("legacy", [False, True])
def test_every_made_up_event_is_a_valid_delivery_of_its_family(event: str, legacy: bool) -> None:
    document = event_delivery(SUBJECT, event, event_id="e1", at_ms=1_735_689_700_000, legacy=legacy)
    delivery = validate_delivery(document)
    assert delivery.family is family_of(event)
    if event.startswith("asset."):
        flattened = "snapshot" in document["payload"]
        assert flattened is (legacy and event in ("asset.ready", "asset.failed"))


def test_the_gate_event_makes_up_a_gate_request() -> None:
    assert is_gate_request(event_delivery(SUBJECT, GATE_EVENT, event_id="e", at_ms=1))


@pytest.mark.parametrize(
    ("event", "count", "events"),
    [
        ("asset.ready", 1, ["asset.ready"]),
        ("asset.ready", 4, ["asset.created", "asset.updated", "asset.updated", "asset.ready"]),
        ("asset.failed", 3, ["asset.created", "asset.updated", "asset.failed"]),
        ("asset.updated", 2, ["asset.created", "asset.ready"]),
        ("stream.idle", 3, ["stream.started", "stream.detection", "stream.idle"]),
        ("recording.ready", 3, ["recording.started", "recording.waiting", "recording.ready"]),
        ("multistream.error", 2, ["multistream.connected", "multistream.error"]),
    ],
)
def test_a_life_ends_in_the_event_asked_for_when_it_ends_one(
    event: str, count: int, events: list[str]
) -> None:
    assert life_of(event, count) == events


@pytest.mark.parametrize("legacy", [False, True])
def test_send_makes_up_a_whole_asset_life_that_validates(legacy: bool) -> None:
    documents = list(sample_events("asset.ready", 5, legacy=legacy))
    assert [validate_delivery(d).envelope.event for d in documents][-1] == "asset.ready"
    assert len({d["payload"]["asset"]["id"] for d in documents}) == 1
