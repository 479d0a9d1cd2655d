"""Which logged events are lost, and the delivery a task's current state makes: pure tables."""

from dataclasses import replace
from typing import Any

import orjson
import pytest

from taskhook.core.delivery import validate_delivery
from taskhook.core.errors import DeliveryInvalid
from taskhook.core.recovery import (
    RECONCILE_WEBHOOK_ID,
    RETRY_HORIZON_MS,
    Attempt,
    Ledger,
    UnreadableLog,
    Verdict,
    attempt_from_log,
    resync_delivery,
    resync_event_id,
)
from taskhook.tools.samples import SampleTask, Step, delivery

NOW = 1_800_000_000_000
HOUR = 3_600_000
WEBHOOK = "de7818e7-610a-4057-8f6f-b785dc1e6f88"


def attempt(
    number: int, *, status: int | None, age_ms: int, event: str = "e1", fired_ago_ms: int = 0
) -> Attempt:
    return Attempt(
        log_id=f"log-{number}",
        webhook_id=WEBHOOK,
        created_at_ms=NOW - age_ms,
        success=status is not None and 200 <= status < 300,
        status=status,
        body=orjson.dumps({"id": event}).decode(),
        event_id=event,
        event_created_at_ms=NOW - (fired_ago_ms or age_ms),
    )


@pytest.mark.parametrize(
    ("answers", "fired_ago_ms", "verdict", "why"),
    [
        ([202], 0, Verdict.DELIVERED, None),
        ([503, 503, 202], 0, Verdict.DELIVERED, None),
        ([202, 404], 0, Verdict.DELIVERED, None),  # a later resend failing changes nothing
        ([503], HOUR, Verdict.RETRYING, None),
        ([None, None], 2 * HOUR, Verdict.RETRYING, None),  # timeouts: Livepeer retries
        ([503, 401], HOUR, Verdict.LOST, "answered 401"),  # a rotated secret: never retried
        ([302], HOUR, Verdict.LOST, "answered 302"),  # a redirect: never retried
        ([503, 499], HOUR, Verdict.LOST, "answered 499"),
        ([401, 503], HOUR, Verdict.RETRYING, None),  # the last answer is what counts
        ([503, None], RETRY_HORIZON_MS + 1, Verdict.LOST, "retries ran out"),
        ([503], RETRY_HORIZON_MS - 1, Verdict.RETRYING, None),
    ],
)
def test_an_event_is_lost_only_when_nothing_succeeded_and_livepeer_will_not_try_again(
    answers: list[int | None], fired_ago_ms: int, verdict: Verdict, why: str | None
) -> None:
    ledger = Ledger()
    for number, status in enumerate(answers):
        age = len(answers) - number  # oldest first, a millisecond apart
        ledger.add(attempt(number, status=status, age_ms=age, fired_ago_ms=fired_ago_ms or age))
    [history] = ledger.histories()
    assert history.verdict(NOW) is verdict
    assert history.attempts == len(answers)
    if why is not None:
        assert history.why_lost() == why


def test_a_ledger_keeps_one_history_per_webhook_and_event_the_earliest_fired_first() -> None:
    ledger = Ledger()
    ledger.add(attempt(1, status=503, age_ms=50, event="late", fired_ago_ms=60))
    ledger.add(attempt(2, status=503, age_ms=90, event="early", fired_ago_ms=100))
    ledger.add(attempt(3, status=404, age_ms=10, event="late"))
    ledger.add(attempt(4, status=503, age_ms=30, event="late"))  # read out of order
    ledger.add(replace(attempt(5, status=202, age_ms=5, event="late"), webhook_id="another"))
    histories = ledger.histories()
    assert [(h.webhook_id, h.key, h.attempts) for h in histories] == [
        (WEBHOOK, "early", 1),
        (WEBHOOK, "late", 3),
        ("another", "late", 1),
    ]
    assert histories[1].latest.log_id == "log-3"
    assert histories[1].verdict(NOW) is Verdict.LOST


def test_a_delivered_event_keeps_no_body_and_an_event_without_an_id_is_known_by_its_bytes() -> None:
    ledger = Ledger()
    ledger.add(attempt(1, status=202, age_ms=5))
    for number in (2, 3):
        ledger.add(
            Attempt(f"log-{number}", WEBHOOK, NOW - number, False, 400, "not json", None, None)
        )
    delivered, unnamed = sorted(ledger.histories(), key=lambda h: h.attempts)
    assert delivered.latest.body == ""
    assert unnamed.attempts == 2
    assert len(unnamed.key) == 64  # a sha-256 of the body


def log_record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": "log-1",
        "createdAt": NOW,
        "success": False,
        "response": {"body": "", "status": 503, "statusText": "Service Unavailable"},
        "request": {"body": orjson.dumps({"id": "e1", "createdAt": NOW - 10}).decode()},
    }
    record.update(changes)
    return record


@pytest.mark.parametrize(
    ("record", "status", "event_id", "fired_at"),
    [
        (log_record(), 503, "e1", NOW - 10),
        (log_record(response={"body": ""}), None, "e1", NOW - 10),  # no answer at all
        (log_record(request={"body": "[1]"}), 503, None, None),
        (log_record(request={"body": "{"}), 503, None, None),
        (log_record(request={"body": '{"id": 5, "createdAt": "x"}'}), 503, None, None),
    ],
)
def test_a_log_record_becomes_an_attempt(
    record: dict[str, Any], status: int | None, event_id: str | None, fired_at: int | None
) -> None:
    read = attempt_from_log(record, WEBHOOK)
    assert (read.status, read.event_id, read.event_created_at_ms) == (status, event_id, fired_at)
    assert read.webhook_id == WEBHOOK


@pytest.mark.parametrize(
    ("record", "missing"),
    [
        (log_record(id=None), "id"),
        (log_record(createdAt="2024"), "createdAt"),
        (log_record(request={}), "request.body"),
        ({}, "id, createdAt, request.body"),
    ],
)
def test_an_unreadable_log_record_says_what_it_lacks(record: dict[str, Any], missing: str) -> None:
    with pytest.raises(UnreadableLog, match=f"without {missing}$"):
        attempt_from_log(record, WEBHOOK)


def task_in(phase_event: str) -> dict[str, Any]:
    sample = SampleTask(id="t-1", type="upload", webhook_id=WEBHOOK, created_at_ms=NOW - HOUR)
    document = delivery(sample, Step(phase_event), event_id="x", at_ms=NOW)  # type: ignore[arg-type]
    snapshot: dict[str, Any] = document["payload"]["task"]["snapshot"]
    return snapshot


@pytest.mark.parametrize(
    ("sample_event", "event", "success"),
    [
        ("task.completed", "task.completed", True),
        ("task.failed", "task.failed", False),
        ("task.updated", "task.updated", None),
        ("task.spawned", "task.updated", None),
    ],
)
def test_a_task_is_re_published_as_the_event_its_phase_implies(
    sample_event: str, event: str, success: bool | None
) -> None:
    task = task_in(sample_event)
    body = resync_delivery(task, NOW)
    checked = validate_delivery(orjson.loads(body))  # the same checks as any delivery
    document = checked.document
    assert (document["event"], document["payload"].get("success")) == (event, success)
    assert document["payload"]["task"]["snapshot"] == task
    assert document["createdAt"] == task["status"]["updatedAt"]
    assert document["webhookId"] == RECONCILE_WEBHOOK_ID


def test_a_re_published_state_has_the_same_id_every_time_and_a_new_state_a_new_one() -> None:
    task = task_in("task.completed")
    first = orjson.loads(resync_delivery(task, NOW))
    again = orjson.loads(resync_delivery(task, NOW + HOUR))
    later = {**task, "status": {**task["status"], "updatedAt": task["status"]["updatedAt"] + 1}}
    assert first["id"] == again["id"] == resync_event_id("t-1", "completed", NOW)
    assert orjson.loads(resync_delivery(later, NOW))["id"] != first["id"]


@pytest.mark.parametrize(
    "task",
    [
        {"id": "t-1", "type": "upload"},
        {"id": "t-1", "type": "upload", "status": "done"},
        {"id": "t-1", "type": "upload", "status": {"phase": ["x"], "updatedAt": NOW}},
    ],
)
def test_a_task_without_a_usable_status_gives_a_delivery_that_validation_refuses(
    task: dict[str, Any],
) -> None:
    document = orjson.loads(resync_delivery(task, NOW))
    assert document["event"] == "task.updated"
    with pytest.raises(DeliveryInvalid):
        validate_delivery(document)
