"""A task's whole life as the bodies taskhook publishes, in the order Livepeer emits them."""

import uuid
from typing import Any

import orjson

from taskhook.core.message import PublishedTaskEvent

ASSET_SPEC = {
    "name": "filename.mp4",
    "type": "video",
    "size": 84934509,
    "hash": None,
    "videoSpec": {
        "format": "mp4",
        "duration": 23.8328,
        "bitrate": 1128000,
        "tracks": [
            {"type": "video", "codec": "h264", "width": 1920, "height": 1080, "fps": 30},
            {"type": "audio", "codec": "aac", "channels": 2, "sampleRate": 44100},
        ],
    },
}
OUTPUTS: dict[str, dict[str, Any]] = {
    "upload": {"upload": {"assetSpec": ASSET_SPEC}},
    "clip": {"clip": {"videoFilePath": "s3://b/clip.mp4", "assetSpec": ASSET_SPEC}},
    "export": {
        "export": {
            "ipfs": {
                "videoFileCid": "bafyvideo",
                "videoFileUrl": "ipfs://bafyvideo",
                "videoFileGatewayUrl": "https://ipfs.example/ipfs/bafyvideo",
                "nftMetadataCid": "bafymeta",
                "nftMetadataGatewayUrl": "https://ipfs.example/ipfs/bafymeta",
            }
        }
    },
    "export-data": {"exportData": {"ipfs": {"cid": "bafydata"}}},
    "transcode-file": {
        "transcodeFile": {
            "baseUrl": "s3+https://***:***@storage.example/bucket/out",
            "hls": {"path": "/hls/index.m3u8"},
            "mp4": [{"path": "/mp4/360p.mp4"}, {"path": "/mp4/720p.mp4"}],
            "request_id": "req-1",
            "input_video": {"duration": 12.5, "size": 1048576},
        }
    },
}
# Each type's normalized output, as the tasks consumer must record it.
EXPECTED_OUTPUTS: dict[str, dict[str, Any]] = {
    "upload": {
        "name": "filename.mp4",
        "duration": 23.8328,
        "size": 84934509,
        "format": "mp4",
        "tracks": [
            {"type": "video", "codec": "h264", "resolution": "1920x1080"},
            {"type": "audio", "codec": "aac", "resolution": None},
        ],
    },
    "export": {
        "videoFileCid": "bafyvideo",
        "videoFileGatewayUrl": "https://ipfs.example/ipfs/bafyvideo",
        "nftMetadataCid": "bafymeta",
        "nftMetadataGatewayUrl": "https://ipfs.example/ipfs/bafymeta",
    },
    "export-data": {"cid": "bafydata"},
    "transcode-file": {
        "baseUrl": "s3+https://***:***@storage.example/bucket/out",
        "hls": "/hls/index.m3u8",
        "mp4": ["/mp4/360p.mp4", "/mp4/720p.mp4"],
        "inputDuration": 12.5,
        "inputSize": 1048576,
    },
}
EXPECTED_OUTPUTS["clip"] = EXPECTED_OUTPUTS["upload"] | {"videoFilePath": "s3://b/clip.mp4"}


def snapshot(
    task_id: str, task_type: str, phase: str, updated_at: int, **status: Any
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": task_id,
        "type": task_type,
        "createdAt": 1_726_570_000_000,
        "userId": "66e2161c-7670-4d05-b71d-da2d6979556f",
        "status": {"phase": phase, "updatedAt": updated_at, **status},
    }
    if phase == "completed":
        document["output"] = OUTPUTS[task_type]
    return document


def published(event: str, task: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The body taskhook publishes for ``event`` carrying ``task`` (a fresh event id)."""
    return {
        "id": str(uuid.uuid4()),
        "event": event,
        "webhookId": "de7818e7-610a-4057-8f6f-b785dc1e6f88",
        "createdAt": task["status"]["updatedAt"],
        **extra,
        "task": task,
    }


def task_life(task_type: str = "upload", task_id: str | None = None) -> list[dict[str, Any]]:
    """spawned, waiting, running 0.25/0.5/0.75, updated completed, completed: 7 bodies."""
    task_id = task_id or str(uuid.uuid4())
    at = 1_726_570_000_000
    completed = snapshot(task_id, task_type, "completed", at + 90_000)
    return [
        published("task.spawned", snapshot(task_id, task_type, "pending", at)),
        published("task.updated", snapshot(task_id, task_type, "waiting", at + 50)),
        *(
            published(
                "task.updated",
                snapshot(task_id, task_type, "running", at + 10_000 * step, progress=step / 4),
            )
            for step in (1, 2, 3)
        ),
        published("task.updated", completed),
        published("task.completed", completed, success=True),
    ]


def failed_life(task_type: str = "transcode-file") -> list[dict[str, Any]]:
    """A task that waits again after an error, runs, and fails for good: 5 bodies."""
    task_id = str(uuid.uuid4())
    at = 1_726_570_000_000
    failed = snapshot(
        task_id, task_type, "failed", at + 60_000, errorMessage="input unreadable", retries=2
    )
    return [
        published("task.spawned", snapshot(task_id, task_type, "pending", at)),
        published("task.updated", snapshot(task_id, task_type, "running", at + 10_000)),
        published(
            "task.updated",
            snapshot(
                task_id, task_type, "waiting", at + 20_000, errorMessage="retrying", retries=1
            ),
        ),
        published("task.updated", failed),
        published("task.failed", failed, success=False),
    ]


def as_event(body: dict[str, Any]) -> PublishedTaskEvent:
    return PublishedTaskEvent.model_validate_json(orjson.dumps(body))
