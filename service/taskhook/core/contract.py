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

from typing import Any, Protocol

from taskhook.core.contract_families import (
    FAMILY_CHANNELS,
    family_channels,
    family_messages,
    family_operations,
)
from taskhook.core.contract_headers import HEADER_TEXT
from taskhook.core.errors import BodyNotJson, DeliveryInvalid
from taskhook.core.message import (
    APP_ID,
    CAUSE_HEADER,
    JSON,
    PERSISTENT,
    RAW_BYTES,
    REASON_HEADER,
    published_event_schema,
)

ASYNCAPI_VERSION = "3.0.0"
# The AMQP 0-9-1 bindings of AsyncAPI 3.0.
AMQP_BINDING = "0.3.0"
# Where the body's models live in the document; the payloads refer to them from here.
SCHEMAS = "#/components/schemas/"


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
    exchange = (
        f"the topic exchange named by TASKHOOK_EXCHANGE ({names.exchange} in this document); "
        "bind your queues to it with these routing keys or patterns of them"
    )
    channels = family_channels(exchange, _exchange_binding(names.exchange, "topic"))
    every_message = {
        message: {"$ref": f"#/components/messages/{message}"}
        for _, message, _ in FAMILY_CHANNELS.values()
    }
    return channels | {
        "unrouted": {
            "address": names.unrouted_queue,
            "title": "Held back: no queue bound",
            "description": (
                f"The quorum queue behind {names.unrouted_exchange}, the events exchange's "
                "alternate exchange (fanout): any event no queue was bound for lands here "
                "unchanged, under its routing key, so nothing vanishes before the first consumer "
                "binds. It grows until someone drains it (`taskhook inspect`, `taskhook replay`)."
            ),
            "messages": every_message,
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
    return family_operations(_send) | {
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


def _messages() -> dict[str, Any]:
    return family_messages(SCHEMAS, _properties) | {
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
                        **HEADER_TEXT,
                        "description": "Each failing field and why, or the parse error.",
                    },
                },
            },
            "payload": {"description": "The delivery's body, byte for byte as received."},
        },
    }
