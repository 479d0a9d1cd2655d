"""Turning the raw bytes of a signed delivery into a checked ``Delivery``.

The delivery format is docs/livepeer-webhooks.md, section 1.

The body is parsed exactly once. Validation runs on the parsed document, but what is published
is the parsed document itself, so unknown keys and exact values reach consumers untouched.
"""

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from taskhook.core.asset import AssetEnvelope, AssetRef
from taskhook.core.envelope import Envelope, EventEnvelope, EventId, NonEmpty
from taskhook.core.errors import BodyNotJson, DeliveryInvalid, FieldProblem, SignatureInvalid
from taskhook.core.families import Family, family_of
from taskhook.core.limits import cut_to_shortstr
from taskhook.core.task_envelope import TaskEnvelope, TaskPayload, TaskRef

__all__ = [  # what other modules import from here, wherever it is defined
    "Delivery",
    "Envelope",
    "EventEnvelope",
    "EventId",
    "NonEmpty",
    "TaskEnvelope",
    "TaskPayload",
    "TaskRef",
    "validate_delivery",
]

MAX_REPORTED_PROBLEMS = 20
# Where Livepeer is told to send deliveries: taskhook serves it, and reconcile recognises its
# webhooks by it.
WEBHOOK_PATH = "/webhooks/livepeer"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery that passed every check; ``document`` is the body exactly as parsed."""

    document: dict[str, Any]
    envelope: Envelope
    family: Family

    @property
    def task(self) -> TaskRef | None:
        """The task this event is about, or None for non-task events."""
        if isinstance(self.envelope, TaskEnvelope):
            return self.envelope.payload.task
        return None

    @property
    def asset(self) -> AssetRef | None:
        """The asset this event is about, or None for events of other families."""
        if isinstance(self.envelope, AssetEnvelope):
            return self.envelope.payload.asset
        return None

    @property
    def log_fields(self) -> dict[str, str]:
        """What a log line may say about this delivery: ids and names, never the payload."""
        fields = {"event_id": self.envelope.id, "event": self.envelope.event}
        if (task := self.task) is not None:
            fields |= {"task_id": task.id, "task_type": task.type}
        elif (asset := self.asset) is not None:
            fields["asset_id"] = asset.id
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
    """Check ``document`` against the model of its event's family (``taskhook.core.families``):
    the Task model for ``task.*``, the Asset model for ``asset.*``, and so on.

    Raises ``DeliveryInvalid`` listing each failing field.
    """
    family = family_of(document.get("event") if type(document) is dict else None)
    try:
        envelope = family.envelope.model_validate(document)
    except ValidationError as e:
        raise DeliveryInvalid(describe_problems(e), context=_context_of(document)) from None
    assert isinstance(document, dict)  # the envelope accepted it, so it is an object
    _check_publishable(document)
    return Delivery(document=document, envelope=envelope, family=family)


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
