"""What happens to a consumed message whose handler did not succeed, decided without any broker.

A failure is retried later through a fixed-delay retry queue, or parked in the consumer's dead
queue with headers that say why. The headers travel with the message, so the count of attempts
and the time of the first failure survive every retry and every restart of the consumer.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from taskhook.core.limits import MAX_HEADER_CHARS
from taskhook.core.wire import iso_time

ATTEMPTS = "x-taskhook-attempts"
FIRST_FAILURE_AT = "x-taskhook-first-failure-at"
LAST_FAILURE_AT = "x-taskhook-last-failure-at"
ERROR_TYPE = "x-taskhook-error-type"
ERROR_MESSAGE = "x-taskhook-error-message"
DEAD_REASON = "x-taskhook-dead-reason"
ROUTING_KEY = "x-taskhook-routing-key"
# What a failed attempt wrote; a message handed back to its consumer starts afresh without them.
FAILURE_HEADERS = frozenset(
    {ATTEMPTS, FIRST_FAILURE_AT, LAST_FAILURE_AT, ERROR_TYPE, ERROR_MESSAGE, DEAD_REASON}
)

FailureKind = Literal["transient", "permanent", "invalid"]
DeadReason = Literal["permanent-error", "invalid-event", "attempts-exhausted"]


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an attempt failed: an ``invalid`` body, a ``permanent`` or ``transient`` error."""

    kind: FailureKind
    error_type: str
    message: str


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry after ``delays_ms[0]``, then ``delays_ms[1]``, ...; the last delay repeats.

    ``max_attempts`` counts every attempt, the first one included.
    """

    delays_ms: tuple[int, ...]
    max_attempts: int

    def delay_after(self, attempt: int) -> int | None:
        """The delay before attempt ``attempt + 1``, or None when no attempt is left."""
        if attempt >= self.max_attempts:
            return None
        return self.delays_ms[min(attempt, len(self.delays_ms)) - 1]


@dataclass(frozen=True, slots=True)
class RetryLater:
    delay_ms: int
    headers: dict[str, str | int]


@dataclass(frozen=True, slots=True)
class Park:
    reason: DeadReason
    headers: dict[str, str | int]


def attempts_made(headers: Mapping[str, object]) -> int:
    """How many attempts came before this delivery (0 for a message never retried)."""
    value = headers.get(ATTEMPTS)
    return value if isinstance(value, int) and value > 0 else 0


def original_routing_key(headers: Mapping[str, object], routing_key: str) -> str:
    """The key the event was first published with: a retried or replayed message arrives under
    its queue's name, and carries the first one in a header."""
    first = headers.get(ROUTING_KEY)
    return first if isinstance(first, str) and first else routing_key


def decide(
    failure: Failure,
    *,
    attempt: int,
    policy: RetryPolicy,
    headers: Mapping[str, object],
    routing_key: str,
    now_ms: int,
) -> RetryLater | Park:
    """Retry a transient failure while attempts are left; park everything else.

    ``attempt`` is the number of the attempt that just failed (1 for the first), ``headers`` the
    message's own, and ``routing_key`` the one it was delivered with.
    """
    failed_at = iso_time(now_ms)
    first = headers.get(FIRST_FAILURE_AT)
    out: dict[str, str | int] = {
        ATTEMPTS: attempt,
        FIRST_FAILURE_AT: first if isinstance(first, str) else failed_at,
        LAST_FAILURE_AT: failed_at,
        ERROR_TYPE: failure.error_type[:MAX_HEADER_CHARS],
        ERROR_MESSAGE: failure.message[:MAX_HEADER_CHARS],
        # The first delivery's key; a retried message arrives under its queue's name instead.
        ROUTING_KEY: original_routing_key(headers, routing_key),
    }
    if failure.kind == "invalid":
        return Park("invalid-event", out | {DEAD_REASON: "invalid-event"})
    if failure.kind == "permanent":
        return Park("permanent-error", out | {DEAD_REASON: "permanent-error"})
    delay_ms = policy.delay_after(attempt)
    if delay_ms is None:
        return Park("attempts-exhausted", out | {DEAD_REASON: "attempts-exhausted"})
    return RetryLater(delay_ms, out)
