"""The AsyncAPI channels, operations and messages of the event families: one channel and one
message per family (``taskhook.core.families``), with the routing keys, headers and body model
the publishing code uses. ``taskhook.core.contract`` assembles them into the document.
"""

from collections.abc import Callable
from typing import Any, get_args

from taskhook.core.asset import Asset, AssetPhase
from taskhook.core.events import EVENT_NAME_PATTERN, TASK_EVENT_PREFIX
from taskhook.core.families import ASSET, FAMILIES, OTHER, Family
from taskhook.core.family_fields import (
    ASSET_ID_HEADER,
    ASSET_PHASE_HEADER,
    PLAYBACK_ID_HEADER,
    PROJECT_ID_HEADER,
    SESSION_ID_HEADER,
    STREAM_ID_HEADER,
    TARGET_ID_HEADER,
    TASK_ID_HEADER,
    TASK_PHASE_HEADER,
    TASK_TYPE_HEADER,
    WEBHOOK_ID_HEADER,
)
from taskhook.core.held import REPLAYED_HEADER
from taskhook.core.limits import MAX_HEADER_CHARS
from taskhook.core.message import RECEIVED_AT_HEADER, routing_key
from taskhook.core.recovery import (
    FROM_ASSET_LIST,
    FROM_DELIVERY_LOG,
    FROM_TASK_LIST,
    RECONCILED_HEADER,
)
from taskhook.core.task import Task, TaskPhase, TaskType

# Every header value is an AMQP long string; taskhook keeps what it writes under this.
HEADER_TEXT: dict[str, Any] = {"type": "string", "maxLength": MAX_HEADER_CHARS}
_ID_TEXT: dict[str, Any] = {**HEADER_TEXT, "minLength": 1}

# Family name: (channel, message, title).
FAMILY_CHANNELS: dict[str, tuple[str, str, str]] = {
    "task": ("taskEvents", "taskEvent", "Task events"),
    "asset": ("assetEvents", "assetEvent", "Asset events"),
    "stream": ("streamEvents", "streamEvent", "Stream events"),
    "recording": ("recordingEvents", "recordingEvent", "Recording events"),
    "multistream": ("multistreamEvents", "multistreamEvent", "Multistream events"),
    "playback": ("playbackEvents", "playbackEvent", "Playback events"),
    "other": ("otherEvents", "event", "Other events"),
}
_SUMMARIES: dict[str, str] = {
    "task": "A task's snapshot as Livepeer sent it, when it spawned, moved or ended.",
    "asset": "An asset's snapshot as Livepeer sent it, in either shape, when it changed.",
    "stream": "A stream went live or idle, or its scene classifier saw something.",
    "recording": "A stream session's recording started, waits for processing, or is ready.",
    "multistream": "A push of a stream to a multistream target connected, failed or ended.",
    "playback": "A viewer started watching a stream.",
    "other": "A Livepeer event of no family taskhook knows, its stream and payload as sent.",
}
_ORDERING: dict[str, str] = {
    "task": "Order a task's events by task.status.updatedAt.",
    "asset": (
        "Order an asset's events by asset.status.updatedAt; asset.deleted carries the asset as "
        "it was before the delete, at its createdAt."
    ),
}
# Family name: [(header, schema, required)], beyond webhook-id and received-at.
_HEADERS: dict[str, list[tuple[str, dict[str, Any], bool]]] = {
    "task": [
        (TASK_ID_HEADER, {**HEADER_TEXT, "description": "The task's id (task.id)."}, True),
        (TASK_TYPE_HEADER, {"enum": list(get_args(TaskType)), "description": "task.type"}, True),
        (
            TASK_PHASE_HEADER,
            {"enum": list(get_args(TaskPhase)), "description": "task.status.phase"},
            True,
        ),
    ],
    "asset": [
        (ASSET_ID_HEADER, {**_ID_TEXT, "description": "The asset's id (asset.id)."}, True),
        (
            ASSET_PHASE_HEADER,
            {"enum": list(get_args(AssetPhase)), "description": "asset.status.phase"},
            True,
        ),
        (
            PLAYBACK_ID_HEADER,
            {**_ID_TEXT, "description": "asset.playbackId, once it has one."},
            False,
        ),
    ],
    "stream": [],
    "recording": [
        (SESSION_ID_HEADER, {**_ID_TEXT, "description": "payload.session.id"}, True),
        (ASSET_ID_HEADER, {**_ID_TEXT, "description": "payload.session.assetId, if set."}, False),
    ],
    "multistream": [
        (TARGET_ID_HEADER, {**_ID_TEXT, "description": "payload.target.id"}, True),
    ],
    "playback": [],
    "other": [],
}
_STREAM_HEADERS: list[tuple[str, dict[str, Any], bool]] = [
    (
        STREAM_ID_HEADER,
        {**_ID_TEXT, "description": "stream.id, when the event has a stream."},
        False,
    ),
    (PLAYBACK_ID_HEADER, {**_ID_TEXT, "description": "stream.playbackId, if set."}, False),
]


def _address(family: Family) -> str:
    if family is OTHER:
        return routing_key("{event}", None)
    if family.name == "task":
        return routing_key(f"{TASK_EVENT_PREFIX}{{event}}", "{taskType}")
    return routing_key(f"{family.name}.{{event}}", None)


def _parameters(family: Family) -> dict[str, Any]:
    if family is OTHER:
        known = ", ".join(f.name for f in FAMILIES)
        return {
            "event": {
                "description": (
                    "The event name as Livepeer sent it, of no family taskhook knows (not "
                    f"{known}), or one of those families Livepeer does not send today: dotted "
                    f"lowercase words ({EVENT_NAME_PATTERN}), so never a binding wildcard."
                ),
                "examples": ["stream.recorded", "billing.usage"],
            }
        }
    names = [event.removeprefix(family.name + ".") for event in family.events]
    later = (
        f" Another {family.name}.* event would be published the same way."
        if family.closed
        else f" Another {family.name}.* event goes to otherEvents."
    )
    parameters: dict[str, Any] = {
        "event": {
            "enum": names,
            "description": f"The event name after `{family.name}.`.{later}",
        }
    }
    if family.name == "task":
        parameters["taskType"] = {
            "enum": list(get_args(TaskType)),
            "description": (
                "The task's type (task-type header). import and transcode come only in the "
                "older shape of the Task model, from before September 2023."
            ),
        }
    return parameters


def family_channels(exchange: str, binding: dict[str, Any]) -> dict[str, Any]:
    """One channel per family on the events exchange, described as ``exchange``."""
    channels: dict[str, Any] = {}
    for family in (*FAMILIES, OTHER):
        channel, message, title = FAMILY_CHANNELS[family.name]
        channels[channel] = {
            "address": _address(family),
            "title": title,
            "description": f"{_SUMMARIES[family.name]} On {exchange}.",
            "parameters": _parameters(family),
            "messages": {message: {"$ref": f"#/components/messages/{message}"}},
            "bindings": binding,
        }
    return channels


def family_operations(send: Callable[[str, str, str], dict[str, Any]]) -> dict[str, Any]:
    """One send operation per family channel."""
    operations: dict[str, Any] = {}
    for name, (channel, message, title) in FAMILY_CHANNELS.items():
        operation = (
            "publishEvent" if name == "other" else f"publish{message[0].upper()}{message[1:]}"
        )
        what = "any other event" if name == "other" else title[0].lower() + title[1:]
        operations[operation] = send(
            channel,
            message,
            f"Publishes each accepted delivery of {what}, confirmed before the 2xx.",
        )
    return operations


def _headers(name: str) -> dict[str, Any]:
    # The stream's headers come from the envelope's typed stream, which only the live families have.
    live = name not in ("task", "asset", "other")
    extra = [*_STREAM_HEADERS, *_HEADERS[name]] if live else _HEADERS[name]
    properties: dict[str, Any] = {
        WEBHOOK_ID_HEADER: {
            **HEADER_TEXT,
            "description": "The Livepeer webhook subscription the event came through.",
        },
        RECEIVED_AT_HEADER: {
            **HEADER_TEXT,
            "format": "date-time",
            "description": (
                "When taskhook received the delivery (ISO 8601, UTC, milliseconds). Set on "
                "every event the ingest or `taskhook reconcile` publishes."
            ),
        },
    }
    properties |= {header: schema for header, schema, _ in extra}
    if name != "other":
        where = {
            "task": f"task.{Task.model_fields['project_id'].alias}",
            "asset": f"asset.{Asset.model_fields['project_id'].alias}",
        }.get(name, "stream.projectId")
        properties[PROJECT_ID_HEADER] = {
            **_ID_TEXT,
            "description": (
                f"The Livepeer project ({where}), for consumers that serve several projects to "
                "route on without reading the body. Absent when Livepeer sent none and when it "
                f"is longer than {MAX_HEADER_CHARS} characters: a cut id would name another."
            ),
        }
    for header, what in (
        ("traceparent", "the W3C trace context of the publish"),
        ("tracestate", "vendor data of that trace context"),
    ):
        properties[header] = {
            **HEADER_TEXT,
            "description": f"Only when taskhook runs with traces on (OTEL_*): {what}.",
        }
    properties[RECONCILED_HEADER] = {
        "enum": [FROM_DELIVERY_LOG, FROM_TASK_LIST, FROM_ASSET_LIST],
        "description": (
            "Only on what `taskhook reconcile` published: delivery-log for a body recovered "
            "from Livepeer's delivery logs, task-list or asset-list for a task's or an asset's "
            "re-synced state."
        ),
    }
    properties[REPLAYED_HEADER] = {
        **HEADER_TEXT,
        "description": (
            "Only on what `taskhook replay` published again: the queue it was held back in "
            "(the unrouted or the rejected queue, or a consumer's dead queue)."
        ),
    }
    required = [WEBHOOK_ID_HEADER, *(header for header, _, needed in extra if needed)]
    return {"type": "object", "required": required, "properties": properties}


def family_messages(schemas: str, properties: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """One message per family: its headers, its body's model under ``schemas``, its AMQP
    properties as ``properties`` describes them for its type."""
    messages: dict[str, Any] = {}
    for family in (*FAMILIES, OTHER):
        _, message, title = FAMILY_CHANNELS[family.name]
        example = family.events[0] if family.events else "an event name"
        messages[message] = {
            "name": message,
            "title": title.removesuffix("s") if family is not OTHER else "Any other event",
            "summary": _SUMMARIES[family.name],
            "description": (
                "The body carries what Livepeer sent, unknown keys included; Livepeer's "
                "per-attempt timestamp is left out, so every copy of an event has the same body. "
                + _ORDERING.get(family.name, "Deliveries arrive in no particular order.")
                + (
                    " Both shapes Livepeer sends asset.ready and asset.failed in give this body."
                    if family is ASSET
                    else ""
                )
            ),
            "contentType": "application/json",
            "headers": _headers(family.name),
            "payload": {"$ref": f"{schemas}{family.published.__name__}"},
            "x-amqp-properties": properties(f"the event name, e.g. {example}"),
        }
    return messages
