"""What `taskhook inspect` says of a held-back message, and where `taskhook replay` sends it."""

from dataclasses import replace
from typing import Any

import orjson
import pytest

from taskhook.broker.topology import Topology
from taskhook.core import retry
from taskhook.core.delivery import parse_body, validate_delivery
from taskhook.core.errors import BodyNotJson, DeliveryInvalid, DeliveryRefused, FieldProblem
from taskhook.core.held import (
    REPLAYED_HEADER,
    HeldQueue,
    Replay,
    Stay,
    as_json,
    is_about,
    plan_replay,
    summarize,
)
from taskhook.core.message import (
    OutgoingMessage,
    ReceivedMessage,
    event_message,
    rejected_message,
)
from taskhook.core.wire import iso_time
from taskhook.tools.samples import SampleTask, Step, delivery

TOPOLOGY = Topology("livepeer.tasks")
REJECTED = HeldQueue("livepeer.tasks.rejected", "rejected", "livepeer.tasks")
UNROUTED = HeldQueue("livepeer.tasks.unrouted", "unrouted", "livepeer.tasks")
DEAD = HeldQueue("taskhook.audit.dead", "dead", "livepeer.tasks", home_queue="taskhook.audit")
AT_MS = 1_795_000_000_000


def document(**snapshot_changes: Any) -> dict[str, Any]:
    task = SampleTask(id="t-1", type="upload", webhook_id="w-1", created_at_ms=AT_MS)
    sample = delivery(task, Step("task.completed"), event_id="e-1", at_ms=AT_MS)
    sample["payload"]["task"]["snapshot"].update(snapshot_changes)
    return sample


def held(message: OutgoingMessage, **headers: object) -> ReceivedMessage:
    """``message`` as the broker hands it over from a queue."""
    return ReceivedMessage(
        body=message.body,
        routing_key=message.routing_key,
        message_id=message.message_id,
        type=message.type,
        headers={**message.headers, **headers},
        timestamp_ms=message.timestamp_ms,
        content_type=message.content_type,
    )


def kept(body: bytes) -> ReceivedMessage:
    """``body`` as taskhook keeps it in the rejected queue after refusing it."""
    refusal: DeliveryRefused
    try:
        validate_delivery(parse_body(body))
        raise AssertionError("the body must be refused")
    except (BodyNotJson, DeliveryInvalid) as e:
        refusal = e
    return held(rejected_message(body, refusal, queue=REJECTED.name, received_at_ms=AT_MS))


def published() -> OutgoingMessage:
    return event_message(validate_delivery(document()))


def parked() -> ReceivedMessage:
    """A published event a consumer parked in its dead queue, as the runner forwards it."""
    failure = retry.Failure("permanent", "AssetGone", "asset deleted")
    verdict = retry.decide(
        failure,
        attempt=1,
        policy=retry.RetryPolicy((1000,), 3),
        headers={},
        routing_key="task.completed.upload",
        now_ms=AT_MS + 1000,
    )
    message = published()
    return held(
        OutgoingMessage(
            routing_key=DEAD.name,
            body=message.body,
            message_id=message.message_id,
            type=message.type,
            headers={**message.headers, **verdict.headers},
            timestamp_ms=message.timestamp_ms,
        ),
        **{"x-death": [{"count": 1}], "x-delivery-count": 2},
    )


def replayed_from(queue: HeldQueue, message: OutgoingMessage) -> OutgoingMessage:
    """``message`` as a replay from ``queue`` publishes it: saying where it was held back."""
    return replace(message, headers={**message.headers, REPLAYED_HEADER: queue.name})


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("livepeer.tasks.rejected", REJECTED),
        ("livepeer.tasks.unrouted", UNROUTED),
        ("taskhook.audit.dead", DEAD),
        ("taskhook.audit", None),  # a live consumer queue: not for these tools
        ("taskhook.audit.retry.5000ms", None),
        ("other.rejected", None),  # another exchange's
        ("taskhook.Audit.dead", None),  # no consumer can have that name
    ],
)
def test_which_queues_hold_messages_back(name: str, expected: HeldQueue | None) -> None:
    assert TOPOLOGY.held_queue(name) == expected


def test_a_rejected_delivery_is_summarized_from_its_bytes_and_the_reason_kept() -> None:
    summary = summarize(kept(orjson.dumps(document(status={"phase": "done"}))), REJECTED)
    assert summary.row()[:5] == (
        "2026-11-18T11:06:40.000Z",
        "task.completed",
        "t-1",
        "upload",
        "done",
    )
    assert summary.why.startswith("invalid-delivery: /payload/task/snapshot/status/phase: ")


def test_bytes_that_are_not_json_are_summarized_with_what_is_known() -> None:
    summary = summarize(kept(b"{not json"), REJECTED)
    assert summary.row()[1:5] == ("unknown", "-", "-", "-")
    assert summary.why.startswith("invalid-json: the body is not valid JSON")


def test_an_unrouted_event_is_summarized_from_its_headers() -> None:
    an_hour_later = AT_MS + 3_600_000
    received = event_message(validate_delivery(document()), received_at_ms=an_hour_later)
    summary = summarize(held(received), UNROUTED)
    # When it arrived and was held back, not the event's createdAt (its timestamp property).
    assert summary.when == iso_time(an_hour_later) != iso_time(document()["createdAt"])
    assert summarize(held(published()), UNROUTED).when == "-"  # from before the header
    assert summary.row()[1:] == (
        "task.completed",
        "t-1",
        "upload",
        "completed",
        "no queue was bound for task.completed.upload",
    )


def test_a_dead_message_says_why_the_consumer_gave_up_and_when() -> None:
    summary = summarize(parked(), DEAD)
    assert summary.when == "2026-11-18T11:06:41.000Z"  # its last failure, not its publication
    assert summary.why == "permanent-error: AssetGone: asset deleted"


def test_a_rejected_delivery_that_now_passes_is_published_as_an_accepted_one_would_be() -> None:
    now_valid = document()
    message = held(
        rejected_message(
            orjson.dumps(now_valid),
            DeliveryInvalid((FieldProblem("/payload", "an older model refused it"),)),
            queue=REJECTED.name,
            received_at_ms=AT_MS,
        )
    )
    plan = plan_replay(message, REJECTED)
    expected = event_message(validate_delivery(now_valid), received_at_ms=AT_MS)
    assert plan == Replay("livepeer.tasks", replayed_from(REJECTED, expected))
    assert isinstance(plan, Replay)
    assert plan.destination == "livepeer.tasks as task.completed.upload"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            orjson.dumps(document(status={"phase": "done"})),
            "/payload/task/snapshot/status/phase: Input should be",
        ),
        (b"{not json", "the body is not valid JSON"),
    ],
)
def test_a_rejected_delivery_that_still_fails_stays_with_the_reason(
    body: bytes, reason: str
) -> None:
    plan = plan_replay(kept(body), REJECTED)
    assert isinstance(plan, Stay)
    assert plan.reason.startswith(reason)


def test_an_unrouted_event_goes_back_to_the_exchange_under_its_routing_key_unchanged() -> None:
    original = published()
    plan = plan_replay(held(original, **{"x-delivery-count": 3}), UNROUTED)
    # The broker's own header dropped; where it was held back said.
    assert plan == Replay("livepeer.tasks", replayed_from(UNROUTED, original))


def test_a_dead_message_goes_back_to_its_own_consumer_only_and_starts_afresh() -> None:
    plan = plan_replay(parked(), DEAD)
    assert isinstance(plan, Replay)
    assert (plan.exchange, plan.message.routing_key) == ("", "taskhook.audit")
    assert plan.destination == "queue taskhook.audit"
    assert dict(plan.message.headers) == {
        **published().headers,
        retry.ROUTING_KEY: "task.completed.upload",  # where it was first routed, for its logs
        REPLAYED_HEADER: DEAD.name,
    }
    assert plan.message.body == published().body
    assert plan.message.message_id == "e-1"


def test_the_json_view_shows_the_whole_message_and_bytes_as_text() -> None:
    shown = as_json(kept(b"\xff{not json"))
    assert shown["body_text"] == "\ufffd{not json"
    assert shown["headers"]["x-taskhook-cause"] == "invalid-json"
    assert shown["timestamp"] == "2026-11-18T11:06:40.000Z"
    assert as_json(held(published()))["body"]["task"]["id"] == "t-1"


def test_the_broker_counts_each_look() -> None:
    assert parked().looks == 2
    assert held(published()).looks == 0


@pytest.mark.parametrize(
    ("message", "queue"),
    [
        (lambda: parked(), DEAD),
        (lambda: held(published()), UNROUTED),
        (lambda: kept(orjson.dumps(document(status={"phase": "done"}))), REJECTED),
    ],
)
def test_a_held_message_is_picked_by_its_event_id_or_its_task_id(
    message: Any, queue: HeldQueue
) -> None:
    picked = message()
    task_id = summarize(picked, queue).task_id
    assert task_id != "-"
    assert is_about(picked, queue, task_id)
    assert is_about(picked, queue, picked.message_id)
    assert not is_about(picked, queue, "something-else")
