"""Turning the raw bytes of a signed delivery into a checked ``Delivery``.

The delivery format is docs/livepeer-webhooks.md, section 1.

The body is parsed exactly once. Validation runs on the parsed document, but what is published
is the parsed document itself, so unknown keys and exact values reach consumers untouched.
"""

from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from pydantic import (
    AfterValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from taskhook.core.errors import BodyNotJson, DeliveryInvalid, FieldProblem, SignatureInvalid
from taskhook.core.events import EVENT_NAME_PATTERN, FINAL_EVENTS, is_task_event
from taskhook.core.limits import SHORTSTR_BYTES, cut_to_shortstr, fits_shortstr
from taskhook.core.task import Task, TaskType
from taskhook.core.wire import Millis, WireModel

MAX_REPORTED_PROBLEMS = 20
# Where Livepeer is told to send deliveries: taskhook serves it, and reconcile recognises its
# webhooks by it.
WEBHOOK_PATH = "/webhooks/livepeer"

NonEmpty = Annotated[str, Field(min_length=1, max_length=255)]


def _fits_shortstr(value: str) -> str:
    # The event id becomes the AMQP message_id: past a short string the publish would fail.
    if not fits_shortstr(value):
        raise ValueError(f"must be at most {SHORTSTR_BYTES} bytes of UTF-8")
    return value


EventId = Annotated[NonEmpty, AfterValidator(_fits_shortstr)]


class Envelope(WireModel):
    """What every Livepeer delivery carries, whatever the event."""

    id: EventId
    webhook_id: NonEmpty
    created_at: Millis
    timestamp: Millis
    event: Annotated[str, Field(pattern=EVENT_NAME_PATTERN, max_length=200)]
    stream: dict[str, Any] | None = None


class EventEnvelope(Envelope):
    """Any event that is not about a task: the envelope is checked, the payload passed through."""

    payload: dict[str, Any] | None = None


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


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery that passed every check; ``document`` is the body exactly as parsed."""

    document: dict[str, Any]
    envelope: TaskEnvelope | EventEnvelope

    @property
    def task(self) -> TaskRef | None:
        """The task this event is about, or None for non-task events."""
        if isinstance(self.envelope, TaskEnvelope):
            return self.envelope.payload.task
        return None

    @property
    def log_fields(self) -> dict[str, str]:
        """What a log line may say about this delivery: ids and names, never the payload."""
        fields = {"event_id": self.envelope.id, "event": self.envelope.event}
        if (task := self.task) is not None:
            fields |= {"task_id": task.id, "task_type": task.type}
        return fields

    @property
    def dedup_key(self) -> str:
        """What identifies the event across retries: one event per webhook subscription."""
        return f"{self.envelope.webhook_id} {self.envelope.id}"


def parse_body(body: bytes) -> object:
    """Parse JSON once; raises ``BodyNotJson``."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise BodyNotJson(f"the body is not valid JSON: {e.msg}") from None


def check_signed_timestamp(document: object, signed_at_ms: int) -> None:
    """The signature covers the body only; ``t`` is trusted because the body repeats it.

    Raises ``SignatureInvalid`` when the body's ``timestamp`` is an integer other than ``t``.
    A missing or mistyped ``timestamp`` is left for validation to report.
    """
    if not isinstance(document, dict):
        return
    stamped = document.get("timestamp")
    if type(stamped) is int and stamped != signed_at_ms:
        raise SignatureInvalid(
            "timestamp-mismatch", "the signature's t does not equal the body's timestamp"
        )


def validate_delivery(document: object) -> Delivery:
    """Check ``document`` against the envelope and, for ``task.*`` events, the Task model.

    Raises ``DeliveryInvalid`` listing each failing field.
    """
    model: type[TaskEnvelope | EventEnvelope] = (
        TaskEnvelope if _is_task_event(document) else EventEnvelope
    )
    try:
        envelope = model.model_validate(document)
    except ValidationError as e:
        raise DeliveryInvalid(describe_problems(e), context=_context_of(document)) from None
    assert isinstance(document, dict)  # the envelope accepted it, so it is an object
    _check_publishable(document)
    return Delivery(document=document, envelope=envelope)


def _check_publishable(document: dict[str, Any]) -> None:
    """Refuse what could be parsed but never published: nesting past orjson's writing depth.

    orjson reads 1024 levels but writes only 254, and unknown keys (``params.exportData.content``
    is the sender's own JSON) are passed through whole. Trying the write is the exact test, and
    costs microseconds next to validation.
    """
    try:
        orjson.dumps(document)
    except orjson.JSONEncodeError:
        problem = FieldProblem(pointer="", detail="nested too deeply to be published")
        raise DeliveryInvalid((problem,), context=_context_of(document)) from None


def describe_problems(error: ValidationError) -> tuple[FieldProblem, ...]:
    """Each failing field as a JSON pointer and pydantic's reason (never the offending value)."""
    return tuple(
        FieldProblem(pointer=_json_pointer(item["loc"]), detail=item["msg"])
        for item in error.errors(include_url=False, include_input=False)[:MAX_REPORTED_PROBLEMS]
    )


def summarize_problems(problems: tuple[FieldProblem, ...]) -> str:
    """``/payload/task/type: Input should be ...; ...``: one line for a header or a log field."""
    return "; ".join(f"{p.pointer or '/'}: {p.detail}" for p in problems)


def _is_task_event(document: object) -> bool:
    if not isinstance(document, dict):
        return False
    event = document.get("event")
    return isinstance(event, str) and is_task_event(event)


def _context_of(document: object) -> dict[str, str]:
    if not isinstance(document, dict):
        return {}
    # These become AMQP short strings (message_id, type) of the kept copy.
    return {
        name: cut_to_shortstr(value)
        for name, value in (("event_id", document.get("id")), ("event", document.get("event")))
        if isinstance(value, str)
    }


def _json_pointer(loc: tuple[int | str, ...]) -> str:
    # RFC 6901: "~" and "/" inside a key are escaped as "~0" and "~1".
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in loc)
