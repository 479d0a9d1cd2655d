"""The ``task.*`` family: a delivery whose payload holds a whole Task snapshot (sections 1.4, 4)."""

from pydantic import ValidationInfo, field_validator, model_validator

from taskhook.core.envelope import Envelope, NonEmpty
from taskhook.core.events import FINAL_EVENTS
from taskhook.core.task import Task, TaskType
from taskhook.core.wire import WireModel


class TaskRef(WireModel):
    """``payload.task``: the task's id and type, and its full snapshot."""

    id: NonEmpty
    type: TaskType
    snapshot: Task

    @model_validator(mode="after")
    def _snapshot_is_this_task(self) -> "TaskRef":
        if self.snapshot.id != self.id or self.snapshot.type != self.type:
            raise ValueError("snapshot id and type must match task id and type")
        return self


class TaskPayload(WireModel):
    """The payload of every ``task.*`` event."""

    success: bool | None = None
    task: TaskRef


class TaskEnvelope(Envelope):
    """A ``task.*`` delivery: the payload is required and holds a whole Task snapshot."""

    payload: TaskPayload

    @field_validator("payload")
    @classmethod
    def _success_when_final(cls, payload: TaskPayload, info: ValidationInfo) -> TaskPayload:
        if info.data.get("event") in FINAL_EVENTS and payload.success is None:
            raise ValueError("success is required for task.completed and task.failed")
        return payload
