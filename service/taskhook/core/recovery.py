"""What reconciling with Livepeer Studio decides, free of HTTP and AMQP.

Two sources of truth, read through Studio's API (docs/reconcile.md): the delivery logs, one record
per attempt to deliver an event, and the tasks themselves. From the logs this module decides
which events Livepeer gave up on (section 2 of that page); from a task it builds the delivery
Livepeer would have sent for its current state (section 3).
"""

import enum
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import orjson

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
# The webhookId of a re-synced task's event: no webhook carried it.
RECONCILE_WEBHOOK_ID = "taskhook-reconcile"
# Fixed for good: a re-synced event's id is derived with it, and downstream services drop a
# second copy by that id. Changing it would make every past event look new.
RESYNC_NAMESPACE = uuid.UUID("5b0c3c4e-2a61-4f0e-9d59-6a1f3b8e7c21")

_FINAL_PHASES: dict[str, tuple[str, bool]] = {
    "completed": ("task.completed", True),
    "failed": ("task.failed", False),
}


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
    task_state: "TaskState | None" = None  # the task id and status.updatedAt it carries
    asset_state: "TaskState | None" = None  # likewise, the asset's


TaskState = tuple[str, int]
"""A task's (or an asset's) id and its ``status.updatedAt``: one state of one task."""


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
        task_state=_task_state(document),
        asset_state=_asset_state(document),
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


def task_state(task: Mapping[str, Any]) -> TaskState | None:
    """The state a task as Studio returns it is in, if it says."""
    return _task_state({"payload": {"task": {"id": task.get("id"), "snapshot": task}}})


def resync_event_id(task_id: object, phase: object, updated_at: object) -> str:
    """The same id for the same state of the same task, on every run and every machine."""
    return str(uuid.uuid5(RESYNC_NAMESPACE, f"{task_id}\n{phase}\n{updated_at}"))


def resync_delivery(task: Mapping[str, Any], now_ms: int) -> bytes:
    """The delivery Livepeer would send for ``task`` as Studio returns it now.

    The event follows the phase (``task.completed`` with success true, ``task.failed`` with
    success false, else ``task.updated``), and it fired at ``status.updatedAt``. Nothing is
    checked here: the bytes go through the same validation as any delivery.
    """
    status = task.get("status")
    status = status if isinstance(status, dict) else {}
    phase, updated_at = status.get("phase"), status.get("updatedAt")
    event, success = _event_of(phase)
    payload: dict[str, Any] = {} if success is None else {"success": success}
    payload["task"] = {"id": task.get("id"), "type": task.get("type"), "snapshot": task}
    document = {
        "id": resync_event_id(task.get("id"), phase, updated_at),
        "webhookId": RECONCILE_WEBHOOK_ID,
        "createdAt": updated_at,
        "timestamp": now_ms,
        "event": event,
        "payload": payload,
    }
    return orjson.dumps(document)


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


def _task_state(document: Mapping[str, Any]) -> TaskState | None:
    task = _at(document, "payload", "task")
    task_id, updated_at = _at(task, "id"), _at(task, "snapshot", "status", "updatedAt")
    if isinstance(task_id, str) and isinstance(updated_at, int):
        return task_id, updated_at
    return None


def _asset_state(document: Mapping[str, Any]) -> TaskState | None:
    payload = _at(document, "payload")
    asset = _at(payload, "asset") if isinstance(_at(payload, "asset"), dict) else payload
    asset_id, updated_at = _at(asset, "id"), _at(asset, "snapshot", "status", "updatedAt")
    if _at(document, "event") == "asset.deleted":  # kept as of the delete, not the snapshot
        return None
    if isinstance(asset_id, str) and isinstance(updated_at, int):
        return asset_id, updated_at
    return None


def asset_state(asset: Mapping[str, Any]) -> TaskState | None:
    """The state an asset as Studio returns it is in, if it says."""
    return _asset_state({"payload": {"asset": {"id": asset.get("id"), "snapshot": asset}}})


def asset_resync_delivery(asset: Mapping[str, Any], now_ms: int) -> bytes:
    """The delivery Livepeer would send for ``asset`` as Studio returns it now: ``asset.ready``
    or ``asset.failed`` in those phases, else ``asset.updated``, fired at ``status.updatedAt``,
    under an id derived from the asset's state (so a second run publishes the same event)."""
    status = asset.get("status")
    status = status if isinstance(status, dict) else {}
    phase, updated_at = status.get("phase"), status.get("updatedAt")
    event = f"asset.{phase}" if phase in ("ready", "failed") else "asset.updated"
    document = {
        "id": resync_event_id(f"asset/{asset.get('id')}", phase, updated_at),
        "webhookId": RECONCILE_WEBHOOK_ID,
        "createdAt": updated_at,
        "timestamp": now_ms,
        "event": event,
        "payload": {"asset": {"id": asset.get("id"), "snapshot": asset}},
    }
    return orjson.dumps(document)


def _at(value: object, *keys: str) -> object:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _is_int(value: object) -> bool:
    return type(value) is int


def _event_of(phase: object) -> tuple[str, bool | None]:
    final = _FINAL_PHASES.get(phase) if isinstance(phase, str) else None
    return final or ("task.updated", None)
