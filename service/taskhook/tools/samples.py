"""Realistic Livepeer task deliveries, for trying taskhook without Livepeer at hand.

Built from the facts in docs/livepeer-webhooks.md: the keys in the sender's order, the params
each task type carries, the output each type reports on completion, masked credentials. Every
sample passes taskhook's own checks (a unit test holds them to that). Ids and times come from the
caller.
"""

from dataclasses import dataclass
from typing import Any, Literal, get_args

from taskhook.core.events import FINAL_EVENTS, TaskEventName

SampleType = Literal["upload", "export", "export-data", "transcode-file", "clip"]
SAMPLE_TYPES: tuple[SampleType, ...] = get_args(SampleType)

USER_ID = "66e2161c-7670-4d05-b71d-da2d6979556f"
PROJECT_ID = "aac12556-4d65-4d34-9fb6-d1f0985eb0a9"
ASSET_ID = "5b3c1d2e-7f80-4a9b-8c7d-6e5f4a3b2c1d"
PLAYBACK_ID = "f5eese9wwl88k4g8"
SCHEDULE_DELAY_MS = 50

_TRACKS = [
    {
        "type": "video",
        "codec": "h264",
        "duration": 23.8328,
        "bitrate": 1000000,
        "width": 1920,
        "height": 1080,
        "pixelFormat": "yuv420p",
        "fps": 30,
    },
    {
        "type": "audio",
        "codec": "aac",
        "duration": 23.8238,
        "bitrate": 128000,
        "channels": 2,
        "sampleRate": 44100,
    },
]
_ASSET_SPEC = {
    "name": "filename.mp4",
    "type": "video",
    "size": 84934509,
    "hash": [{"hash": "9b560b28b85378a5004117539196ab24", "algorithm": "md5"}],
    "videoSpec": {"format": "mp4", "duration": 23.8328, "bitrate": 1128000, "tracks": _TRACKS},
}
_STORAGE = "s3+https://***:***@storage.example.com/bucket"
_CID = "bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"

# The wire keys of params and output differ from the type name for two types.
_PARAMS: dict[SampleType, dict[str, Any]] = {
    "upload": {
        "upload": {"url": "https://cdn.example.com/videos/filename.mp4", "thumbnails": True}
    },
    "export": {"export": {"ipfs": {"nftMetadataTemplate": "file"}}},
    "export-data": {"exportData": {"content": {"title": "filename.mp4", "views": 42}, "ipfs": {}}},
    "transcode-file": {
        "transcode-file": {
            "input": {"url": f"{_STORAGE}/source/input.mp4"},
            "storage": {"url": _STORAGE},
            "outputs": {"hls": {"path": "/samplevideo/hls"}, "mp4": {"path": "/samplevideo/mp4"}},
            "profiles": [{"name": "720p", "width": 1280, "height": 720, "bitrate": 3000000}],
        }
    },
    "clip": {
        "clip": {
            "url": f"https://livepeercdn.studio/hls/{PLAYBACK_ID}/index.m3u8",
            "clipStrategy": {
                "startTime": 1726569000000,
                "endTime": 1726569030000,
                "playbackId": PLAYBACK_ID,
            },
            "catalystPipelineStrategy": "catalyst",
            "sessionId": "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
        }
    },
}
_OUTPUT: dict[SampleType, dict[str, Any]] = {
    "upload": {"upload": {"assetSpec": _ASSET_SPEC}},
    "export": {
        "export": {
            "ipfs": {
                "videoFileCid": _CID,
                "videoFileUrl": f"ipfs://{_CID}",
                "videoFileGatewayUrl": f"https://ipfs.example.com/ipfs/{_CID}",
                "nftMetadataCid": _CID,
            }
        }
    },
    "export-data": {"exportData": {"ipfs": {"cid": _CID}}},
    "transcode-file": {
        "transcodeFile": {
            "baseUrl": "https://storage.example.com/bucket/samplevideo",
            "hls": {"path": "/hls/index.m3u8"},
            "mp4": [{"path": "/mp4/static720p0.mp4"}],
            "request_id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
            "input_video": {"duration": 23.8328, "size": 84934509},
        }
    },
    "clip": {
        "clip": {
            "videoFilePath": "https://storage.example.com/bucket/clip/video",
            "metadataFilePath": "https://storage.example.com/bucket/clip/video.json",
            "assetSpec": _ASSET_SPEC | {"name": "clip.mp4"},
        }
    },
}
_ERRORS: dict[SampleType, str] = {
    "upload": "file could not be imported from URL because it was not accessible",
    "export": "error exporting to IPFS: pinning service answered 401",
    "export-data": "error exporting data to IPFS: pinning service answered 401",
    "transcode-file": "file could not be imported from URL because it was not accessible",
    "clip": "clip time range is outside of the recorded stream",
}


@dataclass(frozen=True, slots=True)
class SampleTask:
    """One task whose events are being made up."""

    id: str
    type: SampleType
    webhook_id: str
    created_at_ms: int


@dataclass(frozen=True, slots=True)
class Step:
    """One event of a task's life: which, and the progress a running update reports."""

    event: TaskEventName
    progress: float | None = None


def life(count: int, event: TaskEventName) -> list[Step]:
    """The events of one task's life in ``count`` deliveries.

    One delivery is ``event`` alone. More walk the life in order: spawned, running updates with
    rising progress, and the final event (``event`` when it is final, completed otherwise).
    """
    if count < 1:
        raise ValueError("count must be 1 or more")
    if count == 1:
        return [Step(event, 0.5 if event == "task.updated" else None)]
    final = event if event in FINAL_EVENTS else "task.completed"
    updates = [Step("task.updated", round(i / (count - 1), 3)) for i in range(1, count - 1)]
    return [Step("task.spawned"), *updates, Step(final)]


def delivery(task: SampleTask, step: Step, *, event_id: str, at_ms: int) -> dict[str, Any]:
    """A delivery as Livepeer sends it at ``at_ms`` (``timestamp`` is the attempt's, set anew
    when it is sent)."""
    snapshot = _snapshot(task, step, at_ms)
    payload: dict[str, Any] = {}
    if step.event in FINAL_EVENTS:
        payload["success"] = step.event == "task.completed"
    payload["task"] = {"id": task.id, "type": task.type, "snapshot": snapshot}
    return {
        "id": event_id,
        "webhookId": task.webhook_id,
        "createdAt": snapshot["status"]["updatedAt"],
        "timestamp": at_ms,
        "event": step.event,
        "payload": payload,
    }


def _snapshot(task: SampleTask, step: Step, at_ms: int) -> dict[str, Any]:
    snapshot: dict[str, Any] = {
        "id": task.id,
        "createdAt": task.created_at_ms,
        "type": task.type,
        "userId": USER_ID,
        "params": _PARAMS[task.type],
        "status": _status(task, step, at_ms),
        "projectId": PROJECT_ID,
    }
    if task.type in ("upload", "clip"):
        snapshot["outputAssetId"] = ASSET_ID
    if task.type in ("export", "export-data"):
        snapshot["inputAssetId"] = ASSET_ID
    if step.event != "task.spawned":
        snapshot["scheduledAt"] = min(task.created_at_ms + SCHEDULE_DELAY_MS, at_ms)
    if step.event == "task.completed":
        snapshot["output"] = _OUTPUT[task.type]
    return snapshot


def _status(task: SampleTask, step: Step, at_ms: int) -> dict[str, Any]:
    if step.event == "task.spawned":
        return {"phase": "pending", "updatedAt": task.created_at_ms}
    if step.event == "task.updated":
        return {"phase": "running", "updatedAt": at_ms, "retries": 0, "progress": step.progress}
    if step.event == "task.failed":
        return {
            "phase": "failed",
            "updatedAt": at_ms,
            "errorMessage": _ERRORS[task.type],
            "retries": 2,
        }
    return {"phase": "completed", "updatedAt": at_ms}
