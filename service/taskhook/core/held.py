"""Messages held back in a queue for a person: what each one is, why it is there, where a replay
sends it. Decided without any broker, from the message's body and properties alone.

Three kinds of queue hold messages back (``taskhook.broker.topology`` names them):

- ``rejected``: the raw bytes of a signed delivery that failed its checks. Replaying checks them
  again, since the model may have been fixed since; one that still fails stays, with the reason.
- ``unrouted``: an event published while no consumer queue was bound for its routing key.
  Replaying publishes it to the events exchange again, under the same routing key.
- ``dead``: what one consumer could not handle. Replaying hands it back to that consumer's queue
  only (the others handled it already), with its failure headers removed so it starts afresh.
"""

from dataclasses import dataclass, replace
from typing import Any, Literal

import orjson

from taskhook.core.delivery import parse_body, summarize_problems, validate_delivery
from taskhook.core.errors import BodyNotJson, DeliveryInvalid
from taskhook.core.message import (
    CAUSE_HEADER,
    REASON_HEADER,
    RECEIVED_AT_HEADER,
    OutgoingMessage,
    ReceivedMessage,
    carried_headers,
    copy_message,
    event_message,
)
from taskhook.core.redaction import DEFAULT_REDACTION, Redaction
from taskhook.core.retry import (
    DEAD_REASON,
    ERROR_MESSAGE,
    ERROR_TYPE,
    FAILURE_HEADERS,
    LAST_FAILURE_AT,
)
from taskhook.core.wire import iso_time

HeldKind = Literal["rejected", "unrouted", "dead"]
UNKNOWN = "-"
# A quorum queue counts every look (a message taken and given back) as a delivery. RabbitMQ 4.0
# to 4.2 drop a message at 20 such deliveries when the queue has no dead-letter target.
LOOKS_BEFORE_WARNING = 10
DEAD_LETTER_DEFAULT_EXCHANGE = ""  # the default exchange routes by queue name
# On a replayed copy: the queue it was held back in (a consumer's Delivery.replayed reads it).
REPLAYED_HEADER = "x-taskhook-replayed"


@dataclass(frozen=True, slots=True)
class HeldQueue:
    """A queue that holds messages back; ``home_queue`` is the consumer queue of a dead queue."""

    name: str
    kind: HeldKind
    exchange: str
    home_queue: str | None = None


@dataclass(frozen=True, slots=True)
class Summary:
    """What ``taskhook inspect`` shows of one message."""

    when: str
    event: str
    task_id: str
    task_type: str
    phase: str
    why: str

    def row(self) -> tuple[str, ...]:
        return (self.when, self.event, self.task_id, self.task_type, self.phase, self.why)


@dataclass(frozen=True, slots=True)
class Replay:
    """Publish ``message`` to ``exchange`` (confirmed), then remove the original."""

    exchange: str
    message: OutgoingMessage

    @property
    def destination(self) -> str:
        if self.exchange == DEAD_LETTER_DEFAULT_EXCHANGE:
            return f"queue {self.message.routing_key}"
        return f"{self.exchange} as {self.message.routing_key}"


@dataclass(frozen=True, slots=True)
class Stay:
    """Leave the message where it is, for this reason."""

    reason: str


def summarize(message: ReceivedMessage, queue: HeldQueue) -> Summary:
    """When it was held back, what it is about, and why it is there."""
    document = _document(message)
    task = _task_fields(message, document)
    return Summary(
        when=_held_since(message, queue),
        event=message.type or _text(document.get("event")),
        task_id=task["id"],
        task_type=task["type"],
        phase=task["phase"],
        why=_why(message, queue),
    )


def is_about(message: ReceivedMessage, queue: HeldQueue, wanted: str) -> bool:
    """Whether ``wanted`` is the message's id (the event's) or the id of the task it is about,
    as ``inspect`` shows it: an operator picks a message by either."""
    return message.message_id == wanted or summarize(message, queue).task_id == wanted


def _held_since(message: ReceivedMessage, queue: HeldQueue) -> str:
    """When it was held back: a dead message's last failure; an unrouted event's arrival (its
    timestamp is the event's createdAt); a rejected delivery's arrival (its timestamp)."""
    header = LAST_FAILURE_AT if queue.kind == "dead" else RECEIVED_AT_HEADER
    stamped = message.header(header)
    if isinstance(stamped, str):
        return stamped
    if queue.kind == "rejected" and message.timestamp_ms is not None:
        return iso_time(message.timestamp_ms)
    return UNKNOWN  # published before taskhook said when: nothing tells


def plan_replay(
    message: ReceivedMessage, queue: HeldQueue, redaction: Redaction = DEFAULT_REDACTION
) -> Replay | Stay:
    """Where a replay sends ``message``, or why it stays. A copy says where it was held back
    (``REPLAYED_HEADER``), so a consumer can tell a replayed event from a first delivery."""
    plan = _plan(message, queue, redaction)
    if isinstance(plan, Stay):
        return plan
    headers = {**plan.message.headers, REPLAYED_HEADER: queue.name}
    return replace(plan, message=replace(plan.message, headers=headers))


def _plan(message: ReceivedMessage, queue: HeldQueue, redaction: Redaction) -> Replay | Stay:
    if queue.kind == "rejected":
        return _replay_rejected(message, queue, redaction)
    if queue.kind == "unrouted":
        return Replay(queue.exchange, copy_message(message, routing_key=message.routing_key))
    if queue.home_queue is None:
        return Stay("no consumer queue is known for this dead queue")
    carried = carried_headers(message).items()
    kept = {name: value for name, value in carried if name not in FAILURE_HEADERS}
    return Replay(
        DEAD_LETTER_DEFAULT_EXCHANGE,
        copy_message(message, routing_key=queue.home_queue, headers=kept),
    )


def as_json(message: ReceivedMessage) -> dict[str, Any]:
    """The whole message, for ``taskhook inspect --json``: a JSON body parsed, other bytes as
    text where they are UTF-8."""
    out: dict[str, Any] = {
        "routing_key": message.routing_key,
        "message_id": message.message_id,
        "type": message.type,
        "timestamp": iso_time(message.timestamp_ms) if message.timestamp_ms is not None else None,
        "content_type": message.content_type,
        "headers": {name: _jsonable(value) for name, value in (message.headers or {}).items()},
    }
    try:
        out["body"] = orjson.loads(message.body)
    except orjson.JSONDecodeError:
        out["body_text"] = message.body.decode("utf-8", "replace")
    return out


def _replay_rejected(
    message: ReceivedMessage, queue: HeldQueue, redaction: Redaction
) -> Replay | Stay:
    try:
        delivery = validate_delivery(parse_body(message.body))
    except BodyNotJson as refusal:
        return Stay(refusal.detail)
    except DeliveryInvalid as refusal:
        return Stay(summarize_problems(refusal.problems))
    published = event_message(delivery, received_at_ms=message.timestamp_ms, redaction=redaction)
    return Replay(queue.exchange, published)


def _why(message: ReceivedMessage, queue: HeldQueue) -> str:
    if queue.kind == "rejected":
        return f"{_text(message.header(CAUSE_HEADER))}: {_text(message.header(REASON_HEADER))}"
    if queue.kind == "unrouted":
        return f"no queue was bound for {message.routing_key}"
    parts = (message.header(name) for name in (DEAD_REASON, ERROR_TYPE, ERROR_MESSAGE))
    return ": ".join(_text(part) for part in parts)


def _task_fields(message: ReceivedMessage, document: dict[str, Any]) -> dict[str, str]:
    """The task's id, type and phase: from the headers taskhook sets, else from the body."""
    snapshot = _dig(document, "task") or _dig(document, "payload", "task", "snapshot") or {}
    return {
        "id": _text(message.header("task-id") or snapshot.get("id")),
        "type": _text(message.header("task-type") or snapshot.get("type")),
        "phase": _text(message.header("task-phase") or _dig(snapshot, "status").get("phase")),
    }


def _document(message: ReceivedMessage) -> dict[str, Any]:
    try:
        document = orjson.loads(message.body)
    except orjson.JSONDecodeError:
        return {}
    return document if isinstance(document, dict) else {}


def _dig(document: object, *path: str) -> dict[str, Any]:
    for key in path:
        document = document.get(key) if isinstance(document, dict) else None
    return document if isinstance(document, dict) else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) and value else UNKNOWN


def _jsonable(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)  # e.g. the datetimes in x-death
