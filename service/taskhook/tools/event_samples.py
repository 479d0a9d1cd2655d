"""Realistic deliveries of every family that is not ``task.*``, for ``taskhook send`` and tests.

Built from docs/livepeer-webhooks.md sections 7 to 9: the envelope's ``stream`` as Studio's
sender fills it, the asset snapshot in the nested shape (or the older flattened one, for
webhooks created before 2024-07-28), the session of recording events, the target of multistream
events, and the playback gate request that is not a delivery at all. Every sample but the gate
passes taskhook's own checks (a unit test holds them to that). Ids and times come from the
caller; ``taskhook.tools.samples`` makes up task deliveries the same way.
"""

from dataclasses import dataclass
from typing import Any

from taskhook.core.families import ASSET, MULTISTREAM, PLAYBACK, RECORDING, STREAM
from taskhook.tools.samples import PROJECT_ID, USER_ID

GATE_EVENT = "playback.accessControl"
"""Not an event Livepeer delivers: ``taskhook send`` makes up a playback gate request by it."""
SAMPLE_EVENTS: tuple[str, ...] = (
    *ASSET.events,
    *STREAM.events,
    *RECORDING.events,
    *MULTISTREAM.events,
    *PLAYBACK.events,
    GATE_EVENT,
)
# Each family's life, first to last; the middle event repeats for a longer life.
LIVES: dict[str, tuple[str, str, str]] = {
    "asset": ("asset.created", "asset.updated", "asset.ready"),
    "stream": ("stream.started", "stream.detection", "stream.idle"),
    "recording": ("recording.started", "recording.waiting", "recording.ready"),
    "multistream": ("multistream.connected", "multistream.connected", "multistream.disconnected"),
    "playback": ("playback.user.new", "playback.user.new", "playback.user.new"),
}
_ENDINGS = {"asset.failed", "asset.deleted", "multistream.error"}
_CDN = "https://livepeercdn.studio"
_SOURCE_URL = "https://cdn.example.com/videos/filename.mp4"
_VIDEO_SPEC = {
    "format": "mp4",
    "duration": 23.8328,
    "bitrate": 1128000,
    "tracks": [
        {"type": "video", "codec": "h264", "width": 1920, "height": 1080, "fps": 30},
        {"type": "audio", "codec": "aac", "channels": 2, "sampleRate": 44100},
    ],
}


@dataclass(frozen=True, slots=True)
class SampleSubject:
    """What the made-up events are about: an asset, or a stream with a session and a target."""

    id: str  # the asset's id, or the stream's
    playback_id: str
    webhook_id: str
    created_at_ms: int
    session_id: str = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"
    target_id: str = "0b7c5e2a-9d41-4f3e-8a6b-2c1d0e9f8a7b"


def life_of(event: str, count: int) -> list[str]:
    """The events of ``count`` deliveries ending in ``event`` (the family's usual last event when
    ``event`` does not end a life)."""
    if count < 1:
        raise ValueError("count must be 1 or more")
    if count == 1:
        return [event]
    first, middle, last = LIVES[event.split(".")[0]]
    final = event if event in _ENDINGS or event == last else last
    return [first, *[middle] * (count - 2), final]


def event_delivery(
    subject: SampleSubject,
    event: str,
    *,
    event_id: str,
    at_ms: int,
    step: float = 0.5,
    legacy: bool = False,
) -> dict[str, Any]:
    """A delivery of ``event`` about ``subject`` as Livepeer sends it at ``at_ms``; ``step``
    (0 to 1) is how far the life has come, ``legacy`` the flattened shape of asset.ready and
    asset.failed. ``GATE_EVENT`` gives a playback gate request instead."""
    if event == GATE_EVENT:
        return gate_request(at_ms)
    document: dict[str, Any] = {
        "id": event_id,
        "webhookId": subject.webhook_id,
        "createdAt": at_ms,
        "timestamp": at_ms,
        "event": event,
    }
    family = event.split(".")[0]
    if family == "asset":
        document["payload"] = _asset_payload(subject, event, at_ms, step, legacy)
        return document
    document["stream"] = _stream(subject, active=event != "stream.idle", at_ms=at_ms)
    if family == "stream" and event == "stream.detection":
        document["payload"] = {
            "seqNo": round(step * 100),
            "sceneClassification": [{"name": "soccer", "probability": 0.2}],
        }
    elif family == "recording":
        document["payload"] = _recording_payload(subject, event, at_ms)
    elif family == "multistream":
        document["payload"] = {
            "target": {"id": subject.target_id, "name": "Twitch", "profile": "720p"}
        }
    elif family == "playback":
        url = f"{_CDN}/hls/{subject.playback_id}/index.m3u8"
        document["payload"] = {"requestUrl": url, "playbackId": subject.playback_id}
    return document


def gate_request(at_ms: int) -> dict[str, Any]:
    """What Studio's access control POSTs to a gate webhook for one viewer."""
    return {"context": {"viewerTier": "gold"}, "accessKey": "viewer-3f9a", "timestamp": at_ms}


def asset_snapshot(
    subject: SampleSubject, phase: str, at_ms: int, *, progress: float | None = None
) -> dict[str, Any]:
    """The asset as ``toExternalAsset`` gives it in ``phase``; ready assets carry their media."""
    status: dict[str, Any] = {"phase": phase, "updatedAt": at_ms}
    if progress is not None:
        status["progress"] = progress
    if phase == "failed":
        status["errorMessage"] = "file could not be imported from URL because it was not accessible"
    snapshot: dict[str, Any] = {
        "id": subject.id,
        "playbackId": subject.playback_id,
        "userId": USER_ID,
        "createdAt": subject.created_at_ms,
        "status": status,
        "name": "filename.mp4",
        "source": {"type": "url", "url": _SOURCE_URL},
        "projectId": PROJECT_ID,
        "playbackPolicy": None,
    }
    if phase == "ready":
        snapshot |= {
            "playbackUrl": f"{_CDN}/hls/{subject.playback_id}/index.m3u8",
            "downloadUrl": f"{_CDN}/asset/{subject.playback_id}/video/download.mp4",
            "size": 84934509,
            "hash": [{"hash": "9b560b28b85378a5004117539196ab24", "algorithm": "md5"}],
            "videoSpec": _VIDEO_SPEC,
        }
    return snapshot


def _asset_payload(
    subject: SampleSubject, event: str, at_ms: int, step: float, legacy: bool
) -> dict[str, Any]:
    phase, progress = {
        "asset.created": ("waiting", None),
        "asset.updated": ("processing", step),
        "asset.ready": ("ready", None),
        "asset.failed": ("failed", None),
        "asset.deleted": ("ready", None),  # the snapshot from before the delete
    }.get(event, ("processing", None))
    snapshot = asset_snapshot(subject, phase, at_ms, progress=progress)
    if event == "asset.deleted":
        snapshot["status"]["updatedAt"] = subject.created_at_ms
    nested = {"id": subject.id, "snapshot": snapshot}
    if legacy and event in ("asset.ready", "asset.failed"):
        return {**nested, "asset": nested}  # Studio spreads the asset beside itself
    return {"asset": nested}


def _stream(subject: SampleSubject, *, active: bool, at_ms: int) -> dict[str, Any]:
    return {
        "id": subject.id,
        "name": "studio-live",
        "kind": "stream",
        "userId": USER_ID,
        "projectId": PROJECT_ID,
        "playbackId": subject.playback_id,
        "createdAt": subject.created_at_ms,
        "lastSeen": at_ms,
        "isActive": active,
        "isHealthy": True,
        "record": True,
        "suspended": False,
        "multistream": {"targets": [{"id": subject.target_id, "profile": "720p"}]},
        "playbackPolicy": {"type": "public"},
    }


def _recording_payload(subject: SampleSubject, event: str, at_ms: int) -> dict[str, Any]:
    session: dict[str, Any] = {
        "id": subject.session_id,
        "parentId": subject.id,
        "name": "studio-live",
        "kind": "stream",
        "userId": USER_ID,
        "projectId": PROJECT_ID,
        "createdAt": subject.created_at_ms,
        "lastSeen": at_ms,
        "record": True,
        "playbackId": subject.playback_id,
        "recordingStatus": "waiting",
    }
    if event == "recording.started":
        return {"session": session}
    urls = {
        "recordingUrl": f"{_CDN}/recordings/{subject.session_id}/index.m3u8",
        "mp4Url": f"{_CDN}/recordings/{subject.session_id}/source.mp4",
    }
    session |= urls | {"recordingStatus": "ready", "assetId": subject.session_id}
    if event == "recording.ready":
        return urls | {"session": session}
    return {"session": session}
