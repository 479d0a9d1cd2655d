"""The delivery Livepeer would have sent for a task's or an asset's current state, and which
state a delivery carries, free of HTTP and AMQP (docs/reconcile.md section 3).
"""

import uuid
from collections.abc import Mapping
from typing import Any

import orjson

# The webhookId of a re-synced event: no webhook carried it.
RECONCILE_WEBHOOK_ID = "taskhook-reconcile"
# Fixed for good: a re-synced event's id is derived with it, and downstream services drop a
# second copy by that id. Changing it would make every past event look new.
RESYNC_NAMESPACE = uuid.UUID("5b0c3c4e-2a61-4f0e-9d59-6a1f3b8e7c21")

_FINAL_PHASES: dict[str, tuple[str, bool]] = {
    "completed": ("task.completed", True),
    "failed": ("task.failed", False),
}

TaskState = tuple[str, int]
"""A task's (or an asset's) id and its ``status.updatedAt``: one state of one of them."""


def task_state(task: Mapping[str, Any]) -> TaskState | None:
    """The state a task as Studio returns it is in, if it says."""
    return task_state_in({"payload": {"task": {"id": task.get("id"), "snapshot": task}}})


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


def task_state_in(document: Mapping[str, Any]) -> TaskState | None:
    task = _at(document, "payload", "task")
    task_id, updated_at = _at(task, "id"), _at(task, "snapshot", "status", "updatedAt")
    if isinstance(task_id, str) and isinstance(updated_at, int):
        return task_id, updated_at
    return None


def asset_state_in(document: Mapping[str, Any]) -> TaskState | None:
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
    return asset_state_in({"payload": {"asset": {"id": asset.get("id"), "snapshot": asset}}})


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


def _event_of(phase: object) -> tuple[str, bool | None]:
    final = _FINAL_PHASES.get(phase) if isinstance(phase, str) else None
    return final or ("task.updated", None)
