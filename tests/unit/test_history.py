"""The history room's pure parts: queries, the timeline, a replay's copy."""

import pytest

from taskhook.core.message import ReceivedMessage
from taskhook.history.archive import ArchivedMessage
from taskhook.history.query import EventQuery, IndexedEvent, timeline_rank
from taskhook.history.replay import ReplayWindow, replay_copy
from taskhook.history.timeline import note, timeline, window_note

AT = 1_764_930_000_000  # 2025-12-05T10:20:00Z


def indexed(**changes: object) -> IndexedEvent:
    fields: dict[str, object] = {
        "id": "evt-1",
        "event": "task.updated",
        "task_id": "task-1",
        "task_type": "upload",
        "phase": "running",
        "progress": 0.5,
        "updated_at": AT,
        "received_at": AT + 5,
        "routing_key": "task.updated.upload",
        "reconciled": None,
        "replayed": None,
    }
    return IndexedEvent(**(fields | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        (("pending", "task.spawned"), ("running", "task.updated")),
        (("running", "task.updated"), ("completed", "task.updated")),
        (("completed", "task.updated"), ("completed", "task.completed")),
        (("failed", "task.updated"), ("failed", "task.failed")),
        (("waiting", "task.updated"), ("running", "task.updated")),
    ],
)
def test_events_with_the_same_update_time_keep_the_order_livepeer_sends_them(
    earlier: tuple[str, str], later: tuple[str, str]
) -> None:
    assert timeline_rank(*earlier) < timeline_rank(*later)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"limit": 0}, "limit must be between"),
        ({"limit": 100_001}, "limit must be between"),
        ({"since_ms": AT, "until_ms": AT}, "--until must be after --since"),
        ({"since_ms": AT, "until_ms": AT - 1}, "--until must be after --since"),
    ],
)
def test_a_query_that_can_find_nothing_is_refused(changes: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EventQuery(**changes)  # type: ignore[arg-type]


def test_the_timeline_has_a_heading_and_a_line_per_event() -> None:
    lines = timeline([indexed(), indexed(id="evt-2", phase="completed", progress=None)])

    assert lines[0].split() == [
        "RECEIVED",
        "UPDATED",
        "EVENT",
        "PHASE",
        "PROGRESS",
        "TASK",
        "ID",
        "NOTE",
    ]
    assert lines[1].split() == [
        "2025-12-05T10:20:00.005Z", "2025-12-05T10:20:00.000Z", "task.updated", "running", "50%",
        "upload", "task-1", "evt-1",
    ]  # fmt: skip
    assert lines[2].split()[3:5] == ["completed", "upload"]


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({}, ""),
        ({"reconciled": "studio-task-list"}, "reconciled (studio-task-list)"),
        ({"replayed": "r1"}, "replayed (run r1)"),
    ],
)
def test_a_note_says_what_set_an_event_apart(changes: dict[str, str], said: str) -> None:
    assert note(indexed(**changes)) == said


@pytest.mark.parametrize(
    ("since", "noted"), [(None, False), (AT, False), (AT + 1, False), (AT - 1, True)]
)
def test_a_window_is_noted_only_when_it_starts_before_what_is_kept(
    since: int | None, noted: bool
) -> None:
    assert (window_note(since, AT) is not None) is noted


def test_json_lines_carry_times_as_iso() -> None:
    line = indexed().as_json()

    assert line["received_at"] == "2025-12-05T10:20:00.005Z"
    assert set(line) >= {"id", "event", "task_id", "phase", "received_at", "routing_key"}


def test_a_replayed_copy_goes_to_the_queue_with_the_original_id_headers_and_its_run() -> None:
    original = ReceivedMessage(
        body=b'{"id":"evt-1"}',
        routing_key="task.completed.upload",
        message_id="evt-1",
        type="task.completed",
        headers={"task-id": "t-1", "received-at": "x", "x-stream-offset": 42},
        timestamp_ms=AT,
    )
    window = ReplayWindow(AT - 1000, AT + 1000, "taskhook.fixed", "run-1")

    copy = replay_copy(ArchivedMessage(42, AT, original), window)

    assert copy.routing_key == "taskhook.fixed"
    assert (copy.message_id, copy.type, copy.body, copy.timestamp_ms) == (
        "evt-1", "task.completed", b'{"id":"evt-1"}', AT
    )  # fmt: skip
    assert copy.headers == {
        "task-id": "t-1",
        "received-at": "x",
        "x-taskhook-replayed": "archive",
        "x-taskhook-replay-run": "run-1",
        "x-taskhook-routing-key": "task.completed.upload",
    }


@pytest.mark.parametrize(
    ("pattern", "wanted"), [(None, True), ("task.completed.#", True), ("task.failed.#", False)]
)
def test_a_window_wants_what_its_pattern_matches(pattern: str | None, wanted: bool) -> None:
    message = ReceivedMessage(body=b"{}", routing_key="task.completed.upload")
    window = ReplayWindow(0, 1, "q", "r", pattern)

    assert window.wants(ArchivedMessage(0, None, message)) is wanted
