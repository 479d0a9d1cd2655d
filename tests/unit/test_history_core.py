import pytest

from taskhook.core.delivered import DeliveredAs, dedup_key, delivered_as, parse_iso_ms
from taskhook.core.moments import parse_moment
from taskhook.core.topic import check_pattern, topic_matches

NOW = 1_764_930_000_000  # 2025-12-05T10:20:00Z


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("#", "task.completed.upload", True),
        ("#", "stream.started", True),
        ("task.#", "task.completed.upload", True),
        ("task.completed.#", "task.completed.upload", True),
        ("task.completed.#", "task.completed", True),
        ("task.completed.#", "task.failed.upload", False),
        ("task.*.upload", "task.updated.upload", True),
        ("task.*.upload", "task.updated.export", False),
        ("task.*", "task.updated.upload", False),
        ("*.*.*", "task.updated.upload", True),
        ("#.upload", "task.spawned.upload", True),
        ("task.#.upload", "task.upload", True),
        ("task.completed.upload", "task.completed.upload", True),
        ("task.completed.upload", "task.completed.export", False),
    ],
)
def test_a_topic_pattern_matches_as_rabbitmq_routes(pattern: str, key: str, matches: bool) -> None:
    assert topic_matches(pattern, key) is matches


@pytest.mark.parametrize("pattern", ["", "task..x", ".task", "task."])
def test_a_pattern_with_an_empty_word_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="routing pattern"):
        check_pattern(pattern)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", NOW - 7_200_000),
        ("30m", NOW - 1_800_000),
        ("90s", NOW - 90_000),
        ("7d", NOW - 7 * 86_400_000),
        ("1w", NOW - 7 * 86_400_000),
        ("1.5h", NOW - 5_400_000),
        ("2025-12-05T10:00:00Z", NOW - 1_200_000),
        ("2025-12-05T11:00:00+01:00", NOW - 1_200_000),
        ("2025-12-05T10:00:00", NOW - 1_200_000),
        ("2025-12-05 10:00", NOW - 1_200_000),
    ],
)
def test_a_moment_is_a_span_ago_or_an_iso_time(text: str, expected: int) -> None:
    assert parse_moment(text, now_ms=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "2 hours", "-2h", "", "12:00:99"])
def test_a_moment_that_is_neither_says_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match="like 2h"):
        parse_moment(text, now_ms=NOW)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, DeliveredAs("task.completed.upload")),
        (
            {"received-at": "2025-12-05T10:20:00.000Z"},
            DeliveredAs("task.completed.upload", received_at_ms=NOW),
        ),
        ({"received-at": b"2025-12-05T10:20:00Z"}, DeliveredAs("task.completed.upload", NOW)),
        ({"received-at": "not a time"}, DeliveredAs("task.completed.upload")),
        (
            {"x-taskhook-reconciled": "studio-task-list"},
            DeliveredAs("task.completed.upload", reconciled="studio-task-list"),
        ),
        (
            {"x-taskhook-replay-run": "run-1"},
            DeliveredAs("task.completed.upload", replay_run="run-1"),
        ),
    ],
)
def test_what_a_consumer_knows_of_a_message_comes_from_its_headers(
    headers: dict[str, object], expected: DeliveredAs
) -> None:
    assert delivered_as("task.completed.upload", headers) == expected


@pytest.mark.parametrize(
    ("delivered", "key"),
    [
        (None, "evt-1"),
        (DeliveredAs("k"), "evt-1"),
        (DeliveredAs("k", reconciled="x"), "evt-1"),
        (DeliveredAs("k", replay_run="r1"), "evt-1 replay r1"),
        (DeliveredAs("k", replay_run="r2"), "evt-1 replay r2"),
    ],
)
def test_a_replayed_copy_is_deduplicated_per_run_not_with_the_original(
    delivered: DeliveredAs | None, key: str
) -> None:
    assert dedup_key("evt-1", delivered) == key


def test_an_iso_time_without_an_offset_is_no_received_at() -> None:
    assert parse_iso_ms("2025-12-05T10:20:00") is None
