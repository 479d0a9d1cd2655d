"""The headers of each event family's message in the AsyncAPI document: the header names and
schemas the publishing code sets, which of them a family always has, and the ones every family
may carry (trace context, reconcile and replay marks). ``taskhook.core.contract_families`` puts
them in each family's message.
"""

from typing import Any, get_args

from taskhook.core.asset import Asset, AssetPhase
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
from taskhook.core.message import RECEIVED_AT_HEADER
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


def family_headers(name: str) -> dict[str, Any]:
    """The headers object of the family ``name``'s message: every header it may carry, and
    which of them it always has."""
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
