"""Realistic signed deliveries for the benchmark: every task event and type, about 1 KB each."""

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from taskhook.clock import now_ms
from taskhook.core.signature import sign
from tests.support.lifecycle import OUTPUTS, failed_life, task_life

PARAMS: dict[str, dict[str, Any]] = {
    "upload": {
        "upload": {"url": "https://cdn.example.com/videos/a-long-file-name.mp4", "thumbnails": True}
    },
    "clip": {
        "clip": {
            "url": "https://cdn.example.com/hls/index.m3u8",
            "clipStrategy": {
                "startTime": 1726570000000,
                "endTime": 1726570030000,
                "playbackId": "abcd1234",
            },
        }
    },
    "export": {"export": {"ipfs": {"nftMetadata": {"name": "a video"}}}},
    "export-data": {
        "exportData": {"content": {"title": "a video", "tags": ["a", "b"]}, "type": "text"}
    },
    "transcode-file": {
        "transcode-file": {
            "input": {"url": "https://cdn.example.com/in.mp4"},
            "storage": {"url": "s3+https://***:***@storage.example/bucket"},
            "outputs": {"hls": {"path": "/hls"}, "mp4": {"path": "/mp4"}},
        }
    },
}


def delivery_documents() -> Iterator[dict[str, Any]]:
    """Endless deliveries with fresh event ids: whole lives of every type, some failing."""
    for task_type in itertools.cycle(sorted(OUTPUTS)):
        lives = task_life(task_type) + failed_life(task_type)
        for published in lives:
            yield as_delivery(published, PARAMS[task_type])


def as_delivery(published: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The delivery Livepeer sends for what taskhook would publish as ``published``."""
    task = published["task"] | {
        "params": params,
        "projectId": "aac12556-4d65-4d34-9fb6-d1f0985eb0a9",
        "requesterId": "9c1f0e42-3b7d-4e1a-8d6c-5a2b7f3e9d10",
        "inputAssetId": "3e5d7c9b-1a2f-4b6d-8e0c-2f4a6b8d0c1e",
        "outputAssetId": "5b3c1d2e-7f80-4a9b-8c7d-6e5f4a3b2c1d",
        "scheduledAt": published["task"]["createdAt"] + 50,
    }
    payload: dict[str, Any] = {"task": {"id": task["id"], "type": task["type"], "snapshot": task}}
    if "success" in published:
        payload["success"] = published["success"]
    return {
        "id": str(uuid.uuid4()),
        "webhookId": published["webhookId"],
        "createdAt": published["createdAt"],
        "timestamp": 0,
        "event": published["event"],
        "payload": payload,
    }


def write_signed(path: Path, count: int, secret: bytes) -> int:
    """Write ``count`` lines ``<signature>\\t<body>``, signed now; returns the bodies' bytes."""
    total = 0
    with path.open("wb") as out:
        for document in itertools.islice(delivery_documents(), count):
            at = now_ms()
            body = orjson.dumps(document | {"timestamp": at})
            total += len(body)
            out.write(sign(body, secret, at).encode() + b"\t" + body + b"\n")
    return total
