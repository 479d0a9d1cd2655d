"""The live families: ``stream.*``, ``recording.*``, ``multistream.*`` and ``playback.*``
(docs/livepeer-webhooks.md section 8).

Studio's webhook sender puts the stream an event is about in the envelope's ``stream`` (read
from its database, private fields and the stream key removed). Stream events have no payload
but ``stream.detection``'s; recording events carry the session; multistream events (sent by
Livepeer's media servers through the same sender) carry the target; ``playback.user.new`` is
not built anywhere in Studio's API, so only what is known of it is typed and the rest left open.
"""

from typing import Any, Literal

from pydantic import Field

from taskhook.core.asset import PlaybackPolicy
from taskhook.core.envelope import Envelope
from taskhook.core.wire import Millis, WireModel

StreamEventName = Literal["stream.started", "stream.idle", "stream.detection"]
RecordingEventName = Literal["recording.started", "recording.waiting", "recording.ready"]
MultistreamEventName = Literal[
    "multistream.connected", "multistream.error", "multistream.disconnected"
]
PlaybackEventName = Literal["playback.user.new"]
RecordingStatus = Literal["waiting", "ready", "failed", "deleted", "none"]


class Stream(WireModel):
    """The envelope's ``stream``: the stream (for recordings, the parent stream) as stored.

    Studio's schema requires ``name``; only ``id`` is required here, the one field every
    consumer keys on.
    """

    id: str = Field(min_length=1)
    name: str | None = None
    kind: str | None = None
    playback_id: str | None = None
    is_active: bool | None = None
    is_healthy: bool | None = None
    record: bool | None = None
    suspended: bool | None = None
    parent_id: str | None = None
    project_id: str | None = None
    user_id: str | None = None
    created_at: Millis | None = None
    last_seen: Millis | None = None
    playback_policy: PlaybackPolicy | None = None
    multistream: dict[str, Any] | None = None


class Session(WireModel):
    """``payload.session`` of recording events: one broadcast of a stream, and its recording."""

    id: str = Field(min_length=1)
    parent_id: str | None = None
    name: str | None = None
    playback_id: str | None = None
    record: bool | None = None
    recording_status: RecordingStatus | None = None
    recording_url: str | None = None
    mp4_url: str | None = None
    asset_id: str | None = None
    project_id: str | None = None
    created_at: Millis | None = None
    last_seen: Millis | None = None


class Detection(WireModel):
    """``stream.detection``'s payload: which segment, and what the scene classifier saw."""

    seq_no: int | None = None
    scene_classification: list[dict[str, Any]] | None = None


class RecordingPayload(WireModel):
    """``recording.*``'s payload. ``recording.ready`` repeats the session's URLs at the top."""

    session: Session
    recording_url: str | None = None
    mp4_url: str | None = None


class MultistreamTarget(WireModel):
    """``payload.target``: the multistream target pushed to, with the rendition it gets."""

    id: str = Field(min_length=1)
    name: str | None = None
    profile: str | None = None


class MultistreamPayload(WireModel):
    target: MultistreamTarget


class PlaybackPayload(WireModel):
    """``playback.user.new``'s payload: a viewer started watching. Open: Studio builds none."""

    request_url: str | None = None
    playback_id: str | None = None


class StreamEnvelope(Envelope):
    stream: Stream
    payload: Detection | None = None


class RecordingEnvelope(Envelope):
    stream: Stream | None = None
    payload: RecordingPayload


class MultistreamEnvelope(Envelope):
    stream: Stream | None = None
    payload: MultistreamPayload


class PlaybackEnvelope(Envelope):
    stream: Stream | None = None
    payload: PlaybackPayload | None = None
