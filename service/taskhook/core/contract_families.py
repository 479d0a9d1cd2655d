"""The AsyncAPI channels, operations and messages of the event families: one channel and one
message per family (``taskhook.core.families``), with the routing keys and body model the
publishing code uses; their headers are ``taskhook.core.contract_headers``.
``taskhook.core.contract`` assembles them into the document.
"""

from collections.abc import Callable
from typing import Any, get_args

from taskhook.core.contract_headers import family_headers
from taskhook.core.events import EVENT_NAME_PATTERN, TASK_EVENT_PREFIX
from taskhook.core.families import ASSET, FAMILIES, OTHER, Family
from taskhook.core.message import routing_key
from taskhook.core.task import TaskType

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
            "headers": family_headers(family.name),
            "payload": {"$ref": f"{schemas}{family.published.__name__}"},
            "x-amqp-properties": properties(f"the event name, e.g. {example}"),
        }
    return messages
