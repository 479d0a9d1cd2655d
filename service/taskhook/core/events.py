"""Livepeer's event names and what taskhook derives from them (docs/livepeer-webhooks.md 1)."""

from typing import Literal, get_args

TaskEventName = Literal["task.spawned", "task.updated", "task.completed", "task.failed"]
"""The task events Livepeer sends today; any other ``task.*`` event is handled the same way."""

TASK_EVENTS: tuple[TaskEventName, ...] = get_args(TaskEventName)
# The events that end a task's life: only they carry `success`, and it is required on them.
FINAL_EVENTS: frozenset[str] = frozenset({"task.completed", "task.failed"})
TASK_EVENT_PREFIX = "task."
# Event names become routing keys: dotted lowercase words, never the binding wildcards * or #.
EVENT_NAME_PATTERN = r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$"


def is_task_event(event: str) -> bool:
    """True for ``task.*`` events, whose payload is a task snapshot."""
    return event.startswith(TASK_EVENT_PREFIX)
