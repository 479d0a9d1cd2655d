"""What taskhook publishes: routing keys, message bodies and headers, decided without any broker.

The body of a published event is the contract with downstream services. It is documented by
``PublishedTaskEvent`` / ``PublishedEvent`` (and the JSON Schema generated from them), but built
from the parsed delivery itself so unknown keys pass through untouched.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import Field, TypeAdapter
from pydantic.json_schema import DEFAULT_REF_TEMPLATE

from taskhook.core.delivered import RECEIVED_AT_HEADER as RECEIVED_AT_HEADER
from taskhook.core.delivery import Delivery, NonEmpty, summarize_problems
from taskhook.core.errors import DeliveryInvalid, DeliveryRefused
from taskhook.core.limits import MAX_HEADER_CHARS
from taskhook.core.recovery import RECONCILED_HEADER
from taskhook.core.redaction import DEFAULT_REDACTION, Redaction
from taskhook.core.task import Task
from taskhook.core.wire import Millis, WireModel, iso_time

JSON = "application/json"
RAW_BYTES = "application/octet-stream"
# AMQP delivery mode of every message taskhook publishes: written to disk (a quorum queue keeps
# every message anyway).
PERSISTENT = 2
# The headers of every published event; task events add the task's id, type and phase.
WEBHOOK_ID_HEADER = "webhook-id"
TASK_ID_HEADER = "task-id"
TASK_TYPE_HEADER = "task-type"
TASK_PHASE_HEADER = "task-phase"
# On a refused delivery kept in the rejected queue: the refusal's cause slug, and why.
CAUSE_HEADER = "x-taskhook-cause"
REASON_HEADER = "x-taskhook-reason"
# On every published event: when taskhook received the delivery (ISO 8601, UTC): the
# RECEIVED_AT_HEADER of taskhook.core.delivered. The timestamp property is the event's
# createdAt, which says nothing of when it was held back unrouted.
# On task events whose snapshot names its project: Livepeer webhooks are per project, so a consumer
# serving several projects can route on it without parsing the body.
PROJECT_ID_HEADER = "project-id"
# Set by RabbitMQ on dead-lettering and delivery; stale on a copy we publish ourselves.
BROKER_HEADER_PREFIXES = ("x-death", "x-first-death", "x-last-death", "x-delivery-count")
APP_ID = "taskhook"


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A message ready for the broker: every property is decided here, none by the publisher."""

    routing_key: str
    body: bytes
    message_id: str
    type: str
    headers: Mapping[str, object] = field(default_factory=dict)
    timestamp_ms: int | None = None
    content_type: str = JSON
    app_id: str = APP_ID
    # Not published: the redaction rules that changed the body, for the publisher's metrics.
    redacted: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One message as the broker handed it over, free of any client library's types."""

    body: bytes
    routing_key: str
    message_id: str | None = None
    type: str | None = None
    headers: Mapping[str, object] | None = None
    timestamp_ms: int | None = None
    content_type: str | None = None
    app_id: str | None = None

    def header(self, name: str) -> object:
        return (self.headers or {}).get(name)

    @property
    def looks(self) -> int:
        """How often the broker delivered it before (RabbitMQ's ``x-delivery-count``)."""
        count = self.header("x-delivery-count")
        return count if isinstance(count, int) else 0


class PublishedTaskEvent(WireModel):
    """The body published for every ``task.*`` event, routed as ``<event>.<task type>``."""

    id: NonEmpty = Field(description="The Livepeer event id; also the AMQP message_id.")
    event: str = Field(description="task.spawned, task.updated, task.completed or task.failed.")
    webhook_id: NonEmpty = Field(description="The Livepeer webhook subscription it came through.")
    created_at: Millis = Field(description="When the event was emitted (status.updatedAt).")
    success: bool | None = Field(
        default=None, description="Only for task.completed and task.failed."
    )
    task: Task = Field(description="The task snapshot exactly as Livepeer sent it.")


class PublishedEvent(WireModel):
    """The body published for any other Livepeer event, routed as ``<event>``."""

    id: NonEmpty
    event: str
    webhook_id: NonEmpty
    created_at: Millis
    stream: dict[str, Any] | None = None
    payload: dict[str, Any] | None = Field(default=None, description="As Livepeer sent it.")


def published_event_schema(*, ref_template: str = DEFAULT_REF_TEMPLATE) -> dict[str, Any]:
    """The JSON Schema of every body taskhook publishes to the events exchange: ``anyOf``
    ``PublishedTaskEvent`` and ``PublishedEvent``, every model under ``$defs``, referred to as
    ``ref_template`` says (``{model}`` is the model's name); the AsyncAPI document moves them
    into its components."""
    schema = TypeAdapter(PublishedTaskEvent | PublishedEvent).json_schema(ref_template=ref_template)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "taskhook published event"
    schema["description"] = (
        "Body of the messages taskhook publishes to the livepeer.tasks topic exchange. "
        "Keys not listed here are passed through from Livepeer untouched."
    )
    return schema


def routing_key(event: str, task_type: str | None) -> str:
    """``task.completed.upload`` for task events, the bare event name for anything else."""
    return f"{event}.{task_type}" if task_type else event


def event_message(
    delivery: Delivery,
    *,
    received_at_ms: int | None = None,
    reconciled: str | None = None,
    redaction: Redaction = DEFAULT_REDACTION,
) -> OutgoingMessage:
    """The message that announces a valid delivery to downstream services. ``received_at_ms``
    is when taskhook received it; ``reconciled`` says where ``taskhook reconcile`` found it,
    None for a live delivery; ``redaction`` keeps credentials out of the body. A task event's
    headers name the task, its type and phase, and its project when the snapshot has a
    ``projectId`` (of at most ``MAX_HEADER_CHARS``)."""
    envelope, document = delivery.envelope, delivery.document
    # `timestamp` is left out on purpose: it changes on every retry, and the same event should
    # always produce the same body.
    body: dict[str, Any] = {key: document[key] for key in ("id", "event", "webhookId", "createdAt")}
    headers = {WEBHOOK_ID_HEADER: envelope.webhook_id}
    task = delivery.task
    if task is None:
        body.update({key: document[key] for key in ("stream", "payload") if key in document})
    else:
        payload = document["payload"]
        if "success" in payload:
            body["success"] = payload["success"]
        body["task"] = payload["task"]["snapshot"]
        headers |= {
            TASK_ID_HEADER: task.id,
            TASK_TYPE_HEADER: task.type,
            TASK_PHASE_HEADER: task.snapshot.status.phase,
        }
        # Absent on older tasks, which have no projectId, and on an empty one. Never cut like a
        # reason is: a cut id names another project, so past the header limit it is left out
        # and the body's task.projectId is the only place to read it.
        project_id = task.snapshot.project_id
        if project_id and len(project_id) <= MAX_HEADER_CHARS:
            headers[PROJECT_ID_HEADER] = project_id
    if received_at_ms is not None:
        headers[RECEIVED_AT_HEADER] = iso_time(received_at_ms)
    if reconciled is not None:
        headers[RECONCILED_HEADER] = reconciled
    body, redacted = redaction.apply(body)
    return OutgoingMessage(
        routing_key=routing_key(envelope.event, task.type if task else None),
        body=orjson.dumps(body),
        redacted=redacted,
        message_id=envelope.id,
        type=envelope.event,
        headers=headers,
        timestamp_ms=envelope.created_at,
    )


def rejected_message(
    body: bytes, refusal: DeliveryRefused, *, queue: str, received_at_ms: int
) -> OutgoingMessage:
    """The raw bytes of a signed delivery we refused, with the reason, for a person to replay."""
    reason = refusal.detail
    if isinstance(refusal, DeliveryInvalid):
        reason = summarize_problems(refusal.problems)
    # A refused delivery may have no usable id: fall back to one derived from the bytes.
    message_id = refusal.context.get("event_id") or body_digest(body)
    return OutgoingMessage(
        routing_key=queue,
        body=body,
        message_id=message_id,
        type=refusal.context.get("event", "unknown"),
        headers={
            CAUSE_HEADER: refusal.cause,
            REASON_HEADER: reason[:MAX_HEADER_CHARS],
        },
        timestamp_ms=received_at_ms,
        content_type=JSON if isinstance(refusal, DeliveryInvalid) else RAW_BYTES,
    )


def body_digest(body: bytes) -> str:
    """A message id for bytes that carry no usable one of their own."""
    return hashlib.sha256(body).hexdigest()


def copy_message(
    message: ReceivedMessage, *, routing_key: str, headers: Mapping[str, object] | None = None
) -> OutgoingMessage:
    """A copy of ``message`` to publish again under ``routing_key``: same body, id, type and
    properties, and ``headers`` (by default its own, less those the broker set)."""
    return OutgoingMessage(
        routing_key=routing_key,
        body=message.body,
        message_id=message.message_id or body_digest(message.body),
        type=message.type or "unknown",
        headers=carried_headers(message) if headers is None else headers,
        timestamp_ms=message.timestamp_ms,
        content_type=message.content_type or JSON,
        app_id=message.app_id or APP_ID,
    )


def carried_headers(message: ReceivedMessage) -> dict[str, object]:
    """The headers a copy of ``message`` carries over: its own, not those RabbitMQ set (they
    are stale on a copy we publish ourselves)."""
    return {
        name: value
        for name, value in (message.headers or {}).items()
        if not name.startswith(BROKER_HEADER_PREFIXES)
    }
