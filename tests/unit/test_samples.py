"""The deliveries `taskhook send` makes up pass taskhook's own checks and tell a task's life."""

from itertools import product

import pytest

from taskhook.core.delivery import validate_delivery
from taskhook.core.events import TASK_EVENTS, TaskEventName
from taskhook.core.message import event_message
from taskhook.tools.samples import SAMPLE_TYPES, SampleTask, SampleType, Step, delivery, life

AT_MS = 1_795_000_000_000
# The output key of each type on the wire (two differ from the type's name).
OUTPUT_KEY = {
    "upload": "upload",
    "export": "export",
    "export-data": "exportData",
    "transcode-file": "transcodeFile",
    "clip": "clip",
}
PHASE = {
    "task.spawned": "pending",
    "task.updated": "running",
    "task.completed": "completed",
    "task.failed": "failed",
}


def sample_task(task_type: SampleType) -> SampleTask:
    return SampleTask(id="t-1", type=task_type, webhook_id="w-1", created_at_ms=AT_MS - 5000)


@pytest.mark.parametrize(("event", "task_type"), list(product(TASK_EVENTS, SAMPLE_TYPES)))
def test_every_sample_is_a_valid_delivery_routed_by_its_event_and_type(
    event: TaskEventName, task_type: SampleType
) -> None:
    document = delivery(sample_task(task_type), Step(event, 0.5), event_id="e-1", at_ms=AT_MS)

    message = event_message(validate_delivery(document))

    assert message.routing_key == f"{event}.{task_type}"
    assert message.message_id == "e-1"
    assert list(document) == ["id", "webhookId", "createdAt", "timestamp", "event", "payload"]
    snapshot = document["payload"]["task"]["snapshot"]
    assert snapshot["status"]["phase"] == PHASE[event]
    assert ("output" in snapshot) == (event == "task.completed")
    assert snapshot["createdAt"] <= snapshot.get("scheduledAt", AT_MS) <= AT_MS


@pytest.mark.parametrize("task_type", SAMPLE_TYPES)
def test_a_completed_sample_carries_the_output_of_its_type(task_type: SampleType) -> None:
    document = delivery(sample_task(task_type), Step("task.completed"), event_id="e", at_ms=AT_MS)
    assert document["payload"]["success"] is True
    assert list(document["payload"]["task"]["snapshot"]["output"]) == [OUTPUT_KEY[task_type]]


@pytest.mark.parametrize("task_type", SAMPLE_TYPES)
def test_a_failed_sample_says_why_and_was_retried(task_type: SampleType) -> None:
    document = delivery(sample_task(task_type), Step("task.failed"), event_id="e", at_ms=AT_MS)
    status = document["payload"]["task"]["snapshot"]["status"]
    assert document["payload"]["success"] is False
    assert status["errorMessage"]
    assert status["retries"] == 2


@pytest.mark.parametrize(
    ("count", "event", "expected"),
    [
        (1, "task.completed", [("task.completed", None)]),
        (1, "task.updated", [("task.updated", 0.5)]),
        (2, "task.failed", [("task.spawned", None), ("task.failed", None)]),
        (
            5,
            "task.completed",
            [
                ("task.spawned", None),
                ("task.updated", 0.25),
                ("task.updated", 0.5),
                ("task.updated", 0.75),
                ("task.completed", None),
            ],
        ),
        # A life always ends final: completed unless told it failed.
        (
            3,
            "task.spawned",
            [("task.spawned", None), ("task.updated", 0.5), ("task.completed", None)],
        ),
    ],
)
def test_a_life_in_count_deliveries(
    count: int, event: TaskEventName, expected: list[tuple[str, float | None]]
) -> None:
    assert [(step.event, step.progress) for step in life(count, event)] == expected


def test_a_life_needs_at_least_one_delivery() -> None:
    with pytest.raises(ValueError, match="1 or more"):
        life(0, "task.completed")


def test_the_events_of_a_life_are_ordered_by_update_time() -> None:
    task = sample_task("clip")
    times = [
        delivery(task, step, event_id=str(i), at_ms=AT_MS + i)["payload"]["task"]["snapshot"][
            "status"
        ]["updatedAt"]
        for i, step in enumerate(life(4, "task.completed"))
    ]
    assert times == sorted(times)
    assert times[0] == task.created_at_ms  # spawned: the task's creation


def test_a_task_is_never_scheduled_after_the_event_that_reports_it() -> None:
    task = SampleTask(id="t", type="upload", webhook_id="w", created_at_ms=AT_MS)
    soon = delivery(task, Step("task.updated", 0.5), event_id="e", at_ms=AT_MS + 10)
    assert soon["payload"]["task"]["snapshot"]["scheduledAt"] == AT_MS + 10
