"""The retry-or-park decision, as a table of cases."""

import pytest

from taskhook.core import retry
from taskhook.core.limits import MAX_HEADER_CHARS
from taskhook.core.retry import Failure, Park, RetryLater, RetryPolicy, attempts_made, decide

POLICY = RetryPolicy(delays_ms=(100, 1000, 5000), max_attempts=5)
NOW = 1_795_900_000_000
TRANSIENT = Failure("transient", "TimeoutError", "the database did not answer")


@pytest.mark.parametrize(
    ("attempt", "delay"),
    [(1, 100), (2, 1000), (3, 5000), (4, 5000), (5, None), (6, None)],
)
def test_delays_follow_the_ladder_then_repeat_the_last_until_attempts_run_out(
    attempt: int, delay: int | None
) -> None:
    assert POLICY.delay_after(attempt) == delay


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({}, 0), ({retry.ATTEMPTS: 3}, 3), ({retry.ATTEMPTS: "3"}, 0), ({retry.ATTEMPTS: -1}, 0)],
)
def test_attempts_made_trusts_only_a_positive_integer_header(
    headers: dict[str, object], expected: int
) -> None:
    assert attempts_made(headers) == expected


@pytest.mark.parametrize(
    ("failure", "attempt", "verdict", "reason"),
    [
        (TRANSIENT, 1, RetryLater, None),
        (TRANSIENT, 4, RetryLater, None),
        (TRANSIENT, 5, Park, "attempts-exhausted"),
        (Failure("permanent", "PermanentError", "no such asset"), 1, Park, "permanent-error"),
        (Failure("invalid", "ValidationError", "/task/type: bad"), 1, Park, "invalid-event"),
    ],
)
def test_only_a_transient_failure_with_attempts_left_is_retried(
    failure: Failure, attempt: int, verdict: type, reason: str | None
) -> None:
    decided = decide(
        failure, attempt=attempt, policy=POLICY, headers={}, routing_key="k", now_ms=NOW
    )
    assert isinstance(decided, verdict)
    assert decided.headers.get(retry.DEAD_REASON) == reason
    assert decided.headers[retry.ATTEMPTS] == attempt


def test_the_headers_say_why_and_keep_the_first_failure_and_routing_key_across_retries() -> None:
    first = decide(
        TRANSIENT,
        attempt=1,
        policy=POLICY,
        headers={"webhook-id": "w"},
        routing_key="task.completed.upload",
        now_ms=NOW,
    )
    assert isinstance(first, RetryLater)
    assert first.delay_ms == 100
    # What the retried copy carries when it comes back, under its queue's name as routing key.
    later = decide(
        TRANSIENT,
        attempt=5,
        policy=POLICY,
        headers=dict(first.headers),
        routing_key="taskhook.audit",
        now_ms=NOW + 60_000,
    )
    assert later.headers == {
        retry.ATTEMPTS: 5,
        retry.FIRST_FAILURE_AT: "2026-11-28T21:06:40.000Z",
        retry.LAST_FAILURE_AT: "2026-11-28T21:07:40.000Z",
        retry.ERROR_TYPE: "TimeoutError",
        retry.ERROR_MESSAGE: "the database did not answer",
        retry.ROUTING_KEY: "task.completed.upload",
        retry.DEAD_REASON: "attempts-exhausted",
    }


def test_a_huge_error_message_is_cut_to_fit_a_header() -> None:
    failure = Failure("permanent", "ValueError", "x" * 10_000)
    decided = decide(failure, attempt=1, policy=POLICY, headers={}, routing_key="k", now_ms=NOW)
    assert len(str(decided.headers[retry.ERROR_MESSAGE])) == MAX_HEADER_CHARS


@pytest.mark.parametrize(
    ("headers", "routing_key", "expected"),
    [
        ({}, "task.completed.upload", "task.completed.upload"),  # a first delivery
        ({retry.ROUTING_KEY: "task.completed.upload"}, "taskhook.tasks", "task.completed.upload"),
        ({retry.ROUTING_KEY: ""}, "task.failed.clip", "task.failed.clip"),
        ({retry.ROUTING_KEY: 7}, "task.failed.clip", "task.failed.clip"),
    ],
)
def test_the_original_routing_key_survives_a_retry_and_a_replay(
    headers: dict[str, object], routing_key: str, expected: str
) -> None:
    assert retry.original_routing_key(headers, routing_key) == expected
