"""What the ``tasks`` consumer keeps of an asset event, decided without any database.

An ``AssetRecord`` is one asset's state as of one event: its phase, playback id, what a player
or a CMS needs of its media, and its error. The rules are the tasks' (``taskhook.tasks.records``):
the later ``status.updatedAt`` wins, and at the same instant the further phase. One exception:
``asset.deleted`` carries the asset as it was before the delete (Studio publishes it first), so
its record is phase ``deleted`` as of the event's ``createdAt``, when the delete happened.
"""

from dataclasses import dataclass
from typing import Any

from taskhook.core.asset import Asset, AssetPhase
from taskhook.core.published import PublishedAssetEvent

DELETED_EVENT = "asset.deleted"
PHASE_RANK: dict[AssetPhase, int] = {
    "uploading": 0,
    "waiting": 1,
    "processing": 2,
    "ready": 3,
    "failed": 3,
    "deleting": 4,
    "deleted": 5,
}


@dataclass(frozen=True, slots=True)
class AssetRecord:
    """An asset's state as of one event; times in Unix milliseconds, as Livepeer sends them."""

    id: str
    phase: str
    phase_rank: int
    progress: float | None
    error_message: str | None
    playback_id: str | None
    name: str | None
    project_id: str | None
    source_type: str | None
    updated_at: int
    created_at: int | None
    outputs: dict[str, Any] | None
    event_id: str

    @property
    def version(self) -> tuple[int, int]:
        """Compare two records of one asset: the greater version is the newer state."""
        return (self.updated_at, self.phase_rank)


def asset_record_of(event: PublishedAssetEvent) -> AssetRecord:
    """The record of the asset ``event`` carries."""
    asset = event.asset
    status = asset.status
    phase: AssetPhase = status.phase
    updated_at = status.updated_at
    if event.event == DELETED_EVENT:
        phase, updated_at = "deleted", max(updated_at, event.created_at)
    return AssetRecord(
        id=asset.id,
        phase=phase,
        phase_rank=PHASE_RANK[phase],
        progress=status.progress,
        error_message=status.error_message,
        playback_id=asset.playback_id,
        name=asset.name,
        project_id=asset.project_id,
        source_type=asset.source.type if asset.source is not None else None,
        updated_at=updated_at,
        created_at=asset.created_at,
        outputs=asset_outputs(asset),
        event_id=event.id,
    )


def asset_outputs(asset: Asset) -> dict[str, Any] | None:
    """Where to play or fetch the asset and what its media is; None until it has any of it."""
    video = asset.video_spec
    outputs = {
        "playbackUrl": asset.playback_url,
        "downloadUrl": asset.download_url,
        "size": None if asset.size is None else round(asset.size),
        "duration": video.duration if video is not None else None,
        "format": video.format if video is not None else None,
        "tracks": [
            {
                "type": track.type,
                "codec": track.codec,
                "resolution": f"{track.width}x{track.height}"
                if track.width is not None and track.height is not None
                else None,
            }
            for track in (video.tracks if video is not None else None) or []
        ],
    }
    return outputs if any(outputs.values()) else None
