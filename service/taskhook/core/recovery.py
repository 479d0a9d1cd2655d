"""What reconciling with Livepeer Studio decides, free of HTTP and AMQP.

Sources of truth, read through Studio's API (docs/reconcile.md): the delivery logs, one record
per attempt to deliver an event, and the tasks and assets themselves. From the logs this module
decides which events Livepeer gave up on (section 2 of that page); ``taskhook.core.resync``
builds the delivery Livepeer would have sent for a task's or an asset's current state.
"""

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import orjson

from taskhook.core.resync import RECONCILE_WEBHOOK_ID as RECONCILE_WEBHOOK_ID
from taskhook.core.resync import TaskState as TaskState
from taskhook.core.resync import asset_state_in, task_state_in
from taskhook.core.resync import resync_delivery as resync_delivery
from taskhook.core.resync import resync_event_id as resync_event_id
from taskhook.core.wire import Millis

# Livepeer's 33 retries (5 s doubling, capped at 1 h; docs/livepeer-webhooks.md section 3) end
# about 24.4 h after an event fired; past this horizon none is coming.
RETRY_HORIZON_MS = 25 * 3600 * 1000
# Published events that reconciliation made say so in this header: "delivery-log" for a body
# recovered from Studio's logs, "task-list" for a task's re-synced state.
RECONCILED_HEADER = "x-taskhook-reconciled"
FROM_DELIVERY_LOG = "delivery-log"
FROM_TASK_LIST = "task-list"
FROM_ASSET_LIST = "asset-list"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One record of Studio's delivery log: one attempt to deliver one event."""

    log_id: str
    webhook_id: str
    created_at_ms: int
    success: bool
    status: int | None  # None when no HTTP answer came: a timeout or a connection error
    body: str  # exactly what was sent
    event_id: str | None  # the body's "id"; None when the body is not JSON or has none
    event_created_at_ms: int | None  # the body's "createdAt": when the event fired
    task_state: TaskState | None = None  # the task id and status.updatedAt it carries
    asset_state: TaskState | None = None  # likewise, the asset's


class StudioFailed(Exception):
    """A call to Studio failed for good; the text is one line for the operator, never the key."""


class StudioRefused(Exception):
    """Studio refused the API key (401, 403): nothing else in the run can work."""


class UnreadableLog(ValueError):
    """A log record without the fields every record has; says which are missing."""


def attempt_from_log(record: Mapping[str, Any], webhook_id: str) -> Attempt:
    """The attempt a log record describes; raises ``UnreadableLog``."""
    request, response = record.get("request"), record.get("response")
    log_id, created_at = record.get("id"), record.get("createdAt")
    body = request.get("body") if isinstance(request, dict) else None
    if not isinstance(log_id, str) or not isinstance(created_at, int) or not isinstance(body, str):
        missing = [
            name
            for name, value, kind in (
                ("id", log_id, str),
                ("createdAt", created_at, int),
                ("request.body", body, str),
            )
            if not isinstance(value, kind)
        ]
        raise UnreadableLog(f"log record without {', '.join(missing)}")
    status = response.get("status") if isinstance(response, dict) else None
    event_id, event_created_at, document = _identity_of(body)
    return Attempt(
        log_id=log_id,
        webhook_id=webhook_id,
        created_at_ms=created_at,
        success=record.get("success") is True,
        status=status if _is_int(status) else None,
        body=body,
        event_id=event_id,
        event_created_at_ms=event_created_at,
        task_state=task_state_in(document),
        asset_state=asset_state_in(document),
    )


class Verdict(enum.Enum):
    """What the attempts logged for one event say became of it."""

    DELIVERED = "delivered"  # an attempt was answered 2xx: the event is in the broker already
    RETRYING = "retrying"  # Livepeer will try again: leave it to Livepeer
    LOST = "lost"  # Livepeer will never deliver it: recover it


@dataclass(slots=True)
class EventHistory:
    """What the attempts found for one event add up to."""

    webhook_id: str
    key: str  # the event id, or a digest of the body when it has none
    fired_at_ms: int  # the body's createdAt, else the first attempt's
    latest: Attempt  # its body is dropped once the event is delivered: it is not needed
    attempts: int = 1
    delivered: bool = False

    def add(self, attempt: Attempt) -> None:
        """Count one more attempt at this event, in any order; the newest becomes ``latest``."""
        self.attempts += 1
        self.delivered = self.delivered or attempt.success
        self.fired_at_ms = min(self.fired_at_ms, _fired_at(attempt))
        if (attempt.created_at_ms, attempt.log_id) >= (
            self.latest.created_at_ms,
            self.latest.log_id,
        ):
            self.latest = attempt
        if self.delivered:
            self.latest = replace(self.latest, body="")

    def verdict(self, now_ms: int) -> Verdict:
        """Lost when nothing succeeded and either the last answer was one Livepeer never retries
        (3xx or 4xx) or its retries ran out (docs/reconcile.md section 2)."""
        if self.delivered:
            return Verdict.DELIVERED
        if self.final_answer is not None or now_ms - self.fired_at_ms > RETRY_HORIZON_MS:
            return Verdict.LOST
        return Verdict.RETRYING

    def lost_at_ms(self) -> int:
        """When Livepeer gave up on it: its last answer, or the end of its retries."""
        if self.final_answer is not None:
            return self.latest.created_at_ms
        return self.fired_at_ms + RETRY_HORIZON_MS

    @property
    def final_answer(self) -> int | None:
        """The latest status when it is one Livepeer never retries, else None."""
        status = self.latest.status
        return status if status is not None and 300 <= status < 500 else None

    def why_lost(self) -> str:
        """``answered 404`` or ``retries ran out``: for the operator's line."""
        status = self.final_answer
        return f"answered {status}" if status is not None else "retries ran out"


class Ledger:
    """Attempts folded into one history per webhook and event as they are read, so a long
    window costs one body per event, not one per attempt."""

    def __init__(self) -> None:
        self._histories: dict[tuple[str, str], EventHistory] = {}

    def add(self, attempt: Attempt) -> None:
        key = attempt.event_id or hashlib.sha256(attempt.body.encode()).hexdigest()
        history = self._histories.get((attempt.webhook_id, key))
        if history is None:
            self._histories[attempt.webhook_id, key] = EventHistory(
                webhook_id=attempt.webhook_id,
                key=key,
                fired_at_ms=_fired_at(attempt),
                latest=replace(attempt, body="") if attempt.success else attempt,
                delivered=attempt.success,
            )
        else:
            history.add(attempt)

    def histories(self) -> list[EventHistory]:
        """Every event seen, the earliest fired first."""
        return sorted(self._histories.values(), key=lambda h: (h.fired_at_ms, h.key))


def _order(attempt: Attempt) -> tuple[int, str]:
    return attempt.created_at_ms, attempt.log_id


def _fired_at(attempt: Attempt) -> int:
    return attempt.event_created_at_ms or attempt.created_at_ms


def _identity_of(body: str) -> tuple[str | None, Millis | None, Mapping[str, Any]]:
    """The event id and when it fired, as far as ``body`` says, and the body as an object."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None, {}
    if not isinstance(document, dict):
        return None, None, {}
    event_id, created_at = document.get("id"), document.get("createdAt")
    return (
        event_id if isinstance(event_id, str) and event_id else None,
        created_at if _is_int(created_at) else None,
        document,
    )


def _is_int(value: object) -> bool:
    return type(value) is int
