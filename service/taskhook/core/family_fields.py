"""What each family of events adds to its published message: body keys and headers
(docs/publishing.md, "Properties and headers").

Headers name what a consumer binds or filters on without reading the body: the task, the asset,
the stream, the session, the multistream target, the project. A header is set only from a
non-empty string of at most ``MAX_HEADER_CHARS`` (a cut id would name something else), so a
field Livepeer left out is a header left out.
"""

from collections.abc import Callable
from typing import Any

from taskhook.core.asset import snapshot_of
from taskhook.core.delivery import Delivery
from taskhook.core.limits import MAX_HEADER_CHARS
from taskhook.core.live import MultistreamEnvelope, RecordingEnvelope, Stream

# The headers of every published event; each family adds its own below.
WEBHOOK_ID_HEADER = "webhook-id"
TASK_ID_HEADER = "task-id"
TASK_TYPE_HEADER = "task-type"
TASK_PHASE_HEADER = "task-phase"
ASSET_ID_HEADER = "asset-id"
ASSET_PHASE_HEADER = "asset-phase"
PLAYBACK_ID_HEADER = "playback-id"
STREAM_ID_HEADER = "stream-id"
SESSION_ID_HEADER = "session-id"
TARGET_ID_HEADER = "multistream-target-id"
# Livepeer webhooks are per project, so a consumer serving several projects can route on it
# without parsing the body.
PROJECT_ID_HEADER = "project-id"

Body = dict[str, Any]
Headers = dict[str, object]


def _put(headers: Headers, name: str, value: object) -> None:
    if isinstance(value, str) and value and len(value) <= MAX_HEADER_CHARS:
        headers[name] = value


def _task(delivery: Delivery, body: Body, headers: Headers) -> None:
    task = delivery.task
    assert task is not None
    payload = delivery.document["payload"]
    if "success" in payload:
        body["success"] = payload["success"]
    body["task"] = payload["task"]["snapshot"]
    headers |= {
        TASK_ID_HEADER: task.id,
        TASK_TYPE_HEADER: task.type,
        TASK_PHASE_HEADER: task.snapshot.status.phase,
    }
    # Absent on older tasks, which have no projectId.
    _put(headers, PROJECT_ID_HEADER, task.snapshot.project_id)


def _asset(delivery: Delivery, body: Body, headers: Headers) -> None:
    asset = delivery.asset
    assert asset is not None
    # Either shape, one body: the snapshot alone (docs/livepeer-webhooks.md section 7.2).
    body["asset"] = snapshot_of(delivery.document["payload"])
    snapshot = asset.snapshot
    headers[ASSET_PHASE_HEADER] = snapshot.status.phase
    _put(headers, ASSET_ID_HEADER, asset.id)
    _put(headers, PLAYBACK_ID_HEADER, snapshot.playback_id)
    _put(headers, PROJECT_ID_HEADER, snapshot.project_id)


def _live(delivery: Delivery, body: Body, headers: Headers) -> None:
    """Stream, recording, multistream and playback events: ``stream`` and ``payload`` as sent."""
    document = delivery.document
    body.update({key: document[key] for key in ("stream", "payload") if key in document})
    envelope = delivery.envelope
    stream = getattr(envelope, "stream", None)
    if isinstance(stream, Stream):
        _put(headers, STREAM_ID_HEADER, stream.id)
        _put(headers, PLAYBACK_ID_HEADER, stream.playback_id)
        _put(headers, PROJECT_ID_HEADER, stream.project_id)
    if isinstance(envelope, RecordingEnvelope):
        session = envelope.payload.session
        _put(headers, SESSION_ID_HEADER, session.id)
        _put(headers, ASSET_ID_HEADER, session.asset_id)
    elif isinstance(envelope, MultistreamEnvelope):
        _put(headers, TARGET_ID_HEADER, envelope.payload.target.id)


FIELDS_OF_FAMILY: dict[str, Callable[[Delivery, Body, Headers], None]] = {
    "task": _task,
    "asset": _asset,
    "stream": _live,
    "recording": _live,
    "multistream": _live,
    "playback": _live,
    "other": _live,
}
"""Adds a family's body keys and headers to the common ones, by family name."""
