"""The AsyncAPI 3.0 document of what taskhook publishes, generated from the code that publishes it.

Other teams code against this document: the events exchange and the two queues beside it, the
routing keys (``routing_key`` over ``TASK_EVENTS`` and ``TaskType``), the AMQP properties and
headers ``event_message`` and ``rejected_message`` set, and the body's JSON Schema
(``published_event_schema``). Every fact is read from the constant or model the publishing code
itself uses, so changing one changes the document, and the committed copy (docs/asyncapi.json)
fails its check until ``make schema`` writes it anew. docs/publishing.md says the same in words.

Pure: the broker's names come in as arguments (``taskhook.broker.topology.Topology`` has them),
and nothing here is read or written.
"""

from typing import Any, Protocol, get_args

from taskhook.core.errors import BodyNotJson, DeliveryInvalid
from taskhook.core.events import EVENT_NAME_PATTERN, TASK_EVENT_PREFIX, TASK_EVENTS
from taskhook.core.held import REPLAYED_HEADER
from taskhook.core.limits import MAX_HEADER_CHARS
from taskhook.core.message import (
    APP_ID,
    CAUSE_HEADER,
    JSON,
    PERSISTENT,
    PROJECT_ID_HEADER,
    RAW_BYTES,
    REASON_HEADER,
    RECEIVED_AT_HEADER,
    TASK_ID_HEADER,
    TASK_PHASE_HEADER,
    TASK_TYPE_HEADER,
    WEBHOOK_ID_HEADER,
    published_event_schema,
    routing_key,
)
from taskhook.core.recovery import FROM_DELIVERY_LOG, FROM_TASK_LIST, RECONCILED_HEADER
from taskhook.core.task import Task, TaskPhase, TaskType

ASYNCAPI_VERSION = "3.0.0"
# The AMQP 0-9-1 bindings of AsyncAPI 3.0.
AMQP_BINDING = "0.3.0"
# Where the body's models live in the document; the payloads refer to them from here.
SCHEMAS = "#/components/schemas/"
# Every header value is an AMQP long string; taskhook keeps what it writes under this.
_HEADER_TEXT: dict[str, Any] = {"type": "string", "maxLength": MAX_HEADER_CHARS}


class BrokerNames(Protocol):
    """The broker objects the document names: ``taskhook.broker.topology.Topology`` is one."""

    @property
    def exchange(self) -> str: ...

    @property
    def unrouted_exchange(self) -> str: ...

    @property
    def unrouted_queue(self) -> str: ...

    @property
    def rejected_queue(self) -> str: ...


def asyncapi_document(names: BrokerNames, *, version: str) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of everything taskhook publishes on the broker ``names`` name,
    as ``version`` of taskhook publishes it. The same arguments always give the same document,
    keys in the same order, so the committed copy can be compared as text."""
    body = published_event_schema(ref_template=SCHEMAS + "{model}")
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:taskhook:events",
        "info": {
            "title": "taskhook events",
            "version": version,
            "description": (
                "What taskhook publishes to RabbitMQ for every Livepeer Studio webhook delivery "
                "it accepts: one persistent message on a topic exchange, broker-confirmed before "
                "the delivery is answered 2xx. Delivery is at-least-once: dedupe by message_id, "
                "the Livepeer event id. Deliveries arrive in no particular order: order a task's "
                "events by task.status.updatedAt. Generated from taskhook's models "
                "(`make schema`); docs/publishing.md says the same in words."
            ),
        },
        "defaultContentType": JSON,
        "channels": _channels(names),
        "operations": _operations(),
        "components": {
            "messages": _messages(),
            "schemas": body.pop("$defs"),
        },
    }


def _exchange_binding(name: str, type_: str) -> dict[str, Any]:
    return {
        "amqp": {
            "is": "routingKey",
            "exchange": {"name": name, "type": type_, "durable": True, "autoDelete": False},
            "bindingVersion": AMQP_BINDING,
        }
    }


def _queue_binding(name: str) -> dict[str, Any]:
    return {
        "amqp": {
            "is": "queue",
            "queue": {"name": name, "durable": True, "exclusive": False, "autoDelete": False},
            "bindingVersion": AMQP_BINDING,
        }
    }


def _channels(names: BrokerNames) -> dict[str, Any]:
    events = [event.removeprefix(TASK_EVENT_PREFIX) for event in TASK_EVENTS]
    task_types: tuple[str, ...] = get_args(TaskType)
    # The address is routing_key's own output for placeholder names, so the two cannot differ.
    task_address = routing_key(f"{TASK_EVENT_PREFIX}{{event}}", "{taskType}")
    exchange = (
        f"the topic exchange named by TASKHOOK_EXCHANGE ({names.exchange} in this document); "
        "bind your queues to it with these routing keys or patterns of them"
    )
    return {
        "taskEvents": {
            "address": task_address,
            "title": "Task events",
            "description": (
                f"Every task.* event, on {exchange} (task.completed.*, task.*.upload, task.#)."
            ),
            "parameters": {
                "event": {
                    "enum": events,
                    "description": (
                        "The event name after `task.`. Livepeer sends these today; another "
                        "task.* event would be published the same way."
                    ),
                },
                "taskType": {
                    "enum": list(task_types),
                    "description": (
                        "The task's type (task-type header). import and transcode come only "
                        "in the older shape of the Task model, from before September 2023."
                    ),
                },
            },
            "messages": {"taskEvent": {"$ref": "#/components/messages/taskEvent"}},
            "bindings": _exchange_binding(names.exchange, "topic"),
        },
        "otherEvents": {
            "address": routing_key("{event}", None),
            "title": "Other events",
            "description": f"Every Livepeer event that is not task.*, on {exchange} (asset.*, #).",
            "parameters": {
                "event": {
                    "description": (
                        "The event name as Livepeer sent it, never starting with `task.`: "
                        f"dotted lowercase words ({EVENT_NAME_PATTERN}), so never a binding "
                        "wildcard."
                    ),
                    "examples": ["asset.ready", "stream.started"],
                },
            },
            "messages": {"event": {"$ref": "#/components/messages/event"}},
            "bindings": _exchange_binding(names.exchange, "topic"),
        },
        "unrouted": {
            "address": names.unrouted_queue,
            "title": "Held back: no queue bound",
            "description": (
                f"The quorum queue behind {names.unrouted_exchange}, the events exchange's "
                "alternate exchange (fanout): any event no queue was bound for lands here "
                "unchanged, under its routing key, so nothing vanishes before the first consumer "
                "binds. It grows until someone drains it (`taskhook inspect`, `taskhook replay`)."
            ),
            "messages": {
                "taskEvent": {"$ref": "#/components/messages/taskEvent"},
                "event": {"$ref": "#/components/messages/event"},
            },
            "bindings": _queue_binding(names.unrouted_queue),
        },
        "rejected": {
            "address": names.rejected_queue,
            "title": "Held back: refused deliveries",
            "description": (
                "A quorum queue, published to through the default exchange: the raw bytes of "
                "every signed delivery answered 400 or 422, since Livepeer never sends those "
                "again. For operators (`taskhook inspect`, `taskhook replay`), not consumers."
            ),
            "messages": {"refused": {"$ref": "#/components/messages/refused"}},
            "bindings": _queue_binding(names.rejected_queue),
        },
    }


def _send(channel: str, message: str, summary: str) -> dict[str, Any]:
    return {
        "action": "send",
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": summary,
        "messages": [{"$ref": f"#/channels/{channel}/messages/{message}"}],
        "bindings": {
            "amqp": {
                "deliveryMode": PERSISTENT,
                # An unroutable message still goes to the alternate exchange; mandatory only
                # makes the broker say so when even that fails.
                "mandatory": True,
                "timestamp": True,
                "bindingVersion": AMQP_BINDING,
            }
        },
    }


def _operations() -> dict[str, Any]:
    return {
        "publishTaskEvent": _send(
            "taskEvents",
            "taskEvent",
            "Publishes each accepted task.* delivery, broker-confirmed before the 2xx.",
        ),
        "publishEvent": _send(
            "otherEvents", "event", "Publishes each accepted delivery of any other event."
        ),
        "keepRefused": _send(
            "rejected", "refused", "Keeps a signed delivery refused as not JSON or not the model."
        ),
    }


def _properties(type_: str) -> dict[str, Any]:
    """The AMQP basic properties of a published event, which AsyncAPI has no field for."""
    return {
        "content_type": JSON,
        "delivery_mode": PERSISTENT,
        "message_id": "the Livepeer event id (the body's id): dedupe by it",
        "type": type_,
        "timestamp": "the event's createdAt, in seconds as AMQP carries it",
        "app_id": APP_ID,
    }


def _event_headers(*, task: bool) -> dict[str, Any]:
    """The headers ``event_message`` sets (``task`` for a task event's)."""
    properties: dict[str, Any] = {
        WEBHOOK_ID_HEADER: {
            **_HEADER_TEXT,
            "description": "The Livepeer webhook subscription the event came through.",
        },
        RECEIVED_AT_HEADER: {
            **_HEADER_TEXT,
            "format": "date-time",
            "description": (
                "When taskhook received the delivery (ISO 8601, UTC, milliseconds). Set on "
                "every event the ingest or `taskhook reconcile` publishes."
            ),
        },
    }
    if task:
        project_id = Task.model_fields["project_id"].alias
        properties |= {
            TASK_ID_HEADER: {**_HEADER_TEXT, "description": "The task's id (task.id)."},
            TASK_TYPE_HEADER: {"enum": list(get_args(TaskType)), "description": "task.type"},
            TASK_PHASE_HEADER: {
                "enum": list(get_args(TaskPhase)),
                "description": "task.status.phase",
            },
            PROJECT_ID_HEADER: {
                **_HEADER_TEXT,
                "minLength": 1,
                "description": (
                    f"The Livepeer project (task.{project_id}), for consumers that serve "
                    "several projects to route on without reading the body. Absent when the "
                    f"snapshot has none (older tasks) and when it is longer than "
                    f"{MAX_HEADER_CHARS} characters: a cut id would name another project."
                ),
            },
        }
    for name, what in (
        ("traceparent", "the W3C trace context of the publish"),
        ("tracestate", "vendor data of that trace context"),
    ):
        properties[name] = {
            **_HEADER_TEXT,
            "description": f"Only when taskhook runs with traces on (OTEL_*): {what}.",
        }
    properties[RECONCILED_HEADER] = {
        "enum": [FROM_DELIVERY_LOG, FROM_TASK_LIST],
        "description": (
            "Only on what `taskhook reconcile` published: delivery-log for a body recovered "
            "from Livepeer's delivery logs, task-list for a task's re-synced state."
        ),
    }
    properties[REPLAYED_HEADER] = {
        **_HEADER_TEXT,
        "description": (
            "Only on what `taskhook replay` published again: the queue it was held back in "
            "(the unrouted or the rejected queue, or a consumer's dead queue)."
        ),
    }
    required = [WEBHOOK_ID_HEADER]
    if task:
        required += [TASK_ID_HEADER, TASK_TYPE_HEADER, TASK_PHASE_HEADER]
    return {"type": "object", "required": required, "properties": properties}


def _messages() -> dict[str, Any]:
    return {
        "taskEvent": {
            "name": "taskEvent",
            "title": "A task event",
            "summary": "A task's snapshot as Livepeer sent it, when it spawned, moved or ended.",
            "description": (
                "The body carries task exactly as received, unknown keys included, and success "
                "on task.completed and task.failed. Livepeer's per-attempt timestamp is left "
                "out, so every copy of an event has the same body."
            ),
            "contentType": JSON,
            "headers": _event_headers(task=True),
            "payload": {"$ref": f"{SCHEMAS}PublishedTaskEvent"},
            "x-amqp-properties": _properties("the event name: task.spawned, task.updated, ..."),
        },
        "event": {
            "name": "event",
            "title": "Any other event",
            "summary": "A Livepeer event that is not about a task, its stream and payload as sent.",
            "contentType": JSON,
            "headers": _event_headers(task=False),
            "payload": {"$ref": f"{SCHEMAS}PublishedEvent"},
            "x-amqp-properties": _properties("the event name, e.g. asset.ready"),
        },
        "refused": {
            "name": "refused",
            "title": "A refused delivery",
            "summary": "The raw bytes of a signed delivery answered 400 or 422, and why.",
            "description": (
                f"content_type is {JSON} when the bytes are JSON (422), {RAW_BYTES} when they "
                "are not (400); message_id is the event id when there was one, else the "
                "SHA-256 of the bytes; timestamp is when taskhook received it."
            ),
            "headers": {
                "type": "object",
                "required": [CAUSE_HEADER, REASON_HEADER],
                "properties": {
                    CAUSE_HEADER: {
                        "enum": [BodyNotJson.cause, DeliveryInvalid.cause],
                        "description": "Why it was refused.",
                    },
                    REASON_HEADER: {
                        **_HEADER_TEXT,
                        "description": "Each failing field and why, or the parse error.",
                    },
                },
            },
            "payload": {"description": "The delivery's body, byte for byte as received."},
        },
    }
