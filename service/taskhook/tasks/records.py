"""What the ``tasks`` consumer keeps of a task event, decided without any database.

A ``TaskRecord`` is one task's state as of one snapshot, with its output normalized per type.
Snapshots arrive in any order; ``version`` orders them: the later ``status.updatedAt`` wins, and
at the same instant the further phase does (``task.completed`` follows the final
``task.updated`` with the same snapshot).
"""

from dataclasses import dataclass
from typing import Any

from taskhook.core.message import PublishedTaskEvent
from taskhook.core.task import (
    Task,
    TaskOutput,
    TaskPhase,
)
from taskhook.core.task_outputs import (
    AssetSpec,
    ClipOutput,
    ExportOutput,
    TranscodeFileOutput,
)

PHASE_RANK: dict[TaskPhase, int] = {
    "pending": 0,
    "waiting": 1,
    "running": 2,
    "failed": 3,
    "completed": 3,
    "cancelled": 3,
}


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """A task's state as of one snapshot; times in Unix milliseconds, as Livepeer sends them."""

    id: str
    type: str
    phase: str
    phase_rank: int
    progress: float | None
    error_message: str | None
    retries: int | None
    updated_at: int
    created_at: int | None
    scheduled_at: int | None
    input_asset_id: str | None
    output_asset_id: str | None
    project_id: str | None
    output: dict[str, Any] | None
    event_id: str

    @property
    def version(self) -> tuple[int, int]:
        """Compare two records of one task: the greater version is the newer state."""
        return (self.updated_at, self.phase_rank)


def record_of(event: PublishedTaskEvent) -> TaskRecord:
    """The record of the task snapshot ``event`` carries."""
    task = event.task
    status = task.status
    return TaskRecord(
        id=task.id,
        type=task.type,
        phase=status.phase,
        phase_rank=PHASE_RANK[status.phase],
        progress=status.progress,
        error_message=status.error_message,
        retries=status.retries,
        updated_at=status.updated_at,
        created_at=task.created_at,
        scheduled_at=task.scheduled_at,
        input_asset_id=task.input_asset_id,
        output_asset_id=task.output_asset_id,
        project_id=task.project_id,
        output=normalized_output(task),
        event_id=event.id,
    )


def normalized_output(task: Task) -> dict[str, Any] | None:
    """What the task produced, in one flat shape per type; None before it produced anything."""
    output = task.output
    if output is None:
        return None
    if output.upload is not None:
        return asset_summary(output.upload.asset_spec)
    if output.clip is not None:
        return clip_summary(output.clip)
    if output.export is not None:
        return export_summary(output.export)
    if output.export_data is not None:
        return {"cid": output.export_data.ipfs.cid}
    if output.transcode_file is not None:
        return transcode_summary(output.transcode_file)
    return _legacy_summary(output)


def _legacy_summary(output: TaskOutput) -> dict[str, Any] | None:
    """The older ``import`` and ``transcode`` tasks: ``{"asset": {...}}``, shaped like a clip."""
    legacy = output.import_ or output.transcode
    if legacy is None or legacy.asset is None:
        return None
    return clip_summary(legacy.asset)


def asset_summary(spec: AssetSpec) -> dict[str, Any]:
    """Duration, size, format and each track's codec and resolution."""
    video = spec.video_spec
    tracks = (video.tracks if video is not None else None) or []
    return {
        "name": spec.name,
        "duration": video.duration if video is not None else None,
        "size": _bytes(spec.size),
        "format": video.format if video is not None else None,
        "tracks": [
            {
                "type": track.type,
                "codec": track.codec,
                "resolution": f"{track.width}x{track.height}"
                if track.width is not None and track.height is not None
                else None,
            }
            for track in tracks
        ],
    }


def clip_summary(output: ClipOutput) -> dict[str, Any]:
    """A clip's asset summary, and where its file is."""
    summary = asset_summary(output.asset_spec) if output.asset_spec is not None else {}
    return summary | {"videoFilePath": output.video_file_path}


def export_summary(output: ExportOutput) -> dict[str, Any]:
    """The IPFS CIDs and gateway URLs of an export."""
    ipfs = output.ipfs
    if ipfs is None:  # exported to a custom URL: nothing to record but that it finished
        return {}
    return {
        "videoFileCid": ipfs.video_file_cid,
        "videoFileGatewayUrl": ipfs.video_file_gateway_url,
        "nftMetadataCid": ipfs.nft_metadata_cid,
        "nftMetadataGatewayUrl": ipfs.nft_metadata_gateway_url,
    }


def transcode_summary(output: TranscodeFileOutput) -> dict[str, Any]:
    """Where the renditions went, and what the input was."""
    source = output.input_video
    return {
        "baseUrl": output.base_url,
        "hls": output.hls.path if output.hls is not None else None,
        "mp4": [rendition.path for rendition in output.mp4 or []],
        "inputDuration": source.duration if source is not None else None,
        "inputSize": _bytes(source.size) if source is not None else None,
    }


def _bytes(size: float | None) -> int | None:
    """A size in bytes as the whole number it is: the model reads any JSON number, and a float
    would show as ``84934509.0``."""
    return None if size is None else round(size)
