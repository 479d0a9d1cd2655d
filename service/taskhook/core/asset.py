"""The ``asset.*`` family: the Livepeer Asset as Studio puts it in a webhook (section 7).

Studio sends ``payload: {"asset": {"id", "snapshot"}}`` for every asset event. Webhooks created
before 2024-07-28 get ``asset.ready`` and ``asset.failed`` in an older, flattened shape as well:
the asset's ``id`` and ``snapshot`` copied to the top of the payload beside ``asset``; older
stored deliveries may have only the flattened pair. ``AssetPayload`` reads all of them as one
``AssetRef``; what is published is always the snapshot alone, under ``asset``.

As with tasks: strict on what consumers rely on (the id, the phase and when it was written, the
shape of the fields a player or a CMS reads), lenient on the rest, every unknown key kept.
"""

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from taskhook.core.envelope import Envelope, NonEmpty
from taskhook.core.task_outputs import AssetHash, VideoSpec
from taskhook.core.wire import Millis, WireModel

AssetEventName = Literal[
    "asset.created", "asset.updated", "asset.ready", "asset.failed", "asset.deleted"
]
AssetPhase = Literal["uploading", "waiting", "processing", "ready", "failed", "deleting", "deleted"]
"""Where an asset is in its life; Studio's schema lists exactly these."""

# The events that announce a phase: Studio sends them only once the asset is in it.
PHASE_OF_EVENT: dict[str, AssetPhase] = {"asset.ready": "ready", "asset.failed": "failed"}


class AssetStatus(WireModel):
    """``status``: the phase and when it was written. Order snapshots of one asset by
    ``updatedAt``."""

    phase: AssetPhase
    updated_at: Millis
    progress: float | None = Field(default=None, ge=0, le=1)
    error_message: str | None = None


class AssetSource(WireModel):
    """``source``: where the asset came from. ``url`` is redacted before publishing."""

    type: Literal["url", "recording", "directUpload", "clip"]
    url: str | None = None
    session_id: str | None = None
    asset_id: str | None = None
    playback_id: str | None = None


class PlaybackPolicy(WireModel):
    """``playbackPolicy``: who may watch. A gated asset is checked through Studio's access
    control, never through taskhook (docs/livepeer-webhooks.md section 9)."""

    type: Literal["public", "jwt", "webhook"]
    webhook_id: str | None = None
    webhook_context: dict[str, Any] | None = None
    refresh_interval: float | None = None
    allowed_origins: list[str] | None = None


class Asset(WireModel):
    """A Livepeer asset snapshot (``payload.asset.snapshot``).

    Studio's schema requires ``id``, ``name`` and ``source``; the webhook always carries ``id``
    and ``status`` (the scheduler writes status on every change), so those two are required here
    and the rest is optional, since an asset just created has no ``playbackId`` or
    ``videoSpec`` yet.
    """

    id: str = Field(min_length=1)
    status: AssetStatus
    name: str | None = None
    type: Literal["video", "audio"] | None = None
    playback_id: str | None = None
    playback_url: str | None = None
    download_url: str | None = None
    source: AssetSource | None = None
    playback_policy: PlaybackPolicy | None = None
    creator_id: dict[str, Any] | str | None = None
    project_id: str | None = None
    user_id: str | None = None
    created_at: Millis | None = None
    size: float | None = Field(default=None, ge=0)
    hash: list[AssetHash] | None = None
    video_spec: VideoSpec | None = None
    storage: dict[str, Any] | None = None
    deleted: bool | None = None
    deleted_at: Millis | None = None


class AssetRef(WireModel):
    """``payload.asset``: the asset's id and its snapshot."""

    id: NonEmpty
    snapshot: Asset

    @model_validator(mode="after")
    def _snapshot_is_this_asset(self) -> "AssetRef":
        if self.snapshot.id != self.id:
            raise ValueError("snapshot id must match asset id")
        return self


class AssetPayload(WireModel):
    """The payload of every ``asset.*`` event, in either shape.

    ``asset`` is required in the nested shape; a payload without it is read as the flattened
    one, its own ``id`` and ``snapshot`` being the asset's.
    """

    asset: AssetRef

    @model_validator(mode="before")
    @classmethod
    def _read_flattened(cls, data: Any) -> Any:
        if isinstance(data, dict) and "asset" not in data and "snapshot" in data:
            return {"asset": {"id": data.get("id"), "snapshot": data["snapshot"]}}
        return data


class AssetEnvelope(Envelope):
    """An ``asset.*`` delivery; ``asset.ready`` and ``asset.failed`` carry an asset in the phase
    they announce (Studio sends them only then)."""

    payload: AssetPayload

    @field_validator("payload")
    @classmethod
    def _phase_of_event(cls, payload: AssetPayload, info: ValidationInfo) -> AssetPayload:
        wanted = PHASE_OF_EVENT.get(str(info.data.get("event")))
        if wanted is not None and payload.asset.snapshot.status.phase != wanted:
            raise ValueError(f"the asset of {info.data['event']} must be in phase {wanted}")
        return payload


def is_flattened(payload: dict[str, Any]) -> bool:
    """True for the older shape of ``asset.ready``/``asset.failed`` (``id`` and ``snapshot`` at
    the top of the payload)."""
    return "snapshot" in payload


def snapshot_of(payload: dict[str, Any]) -> Any:
    """The asset snapshot of a payload ``AssetPayload`` accepted, in either shape."""
    nested = payload.get("asset")
    return nested["snapshot"] if isinstance(nested, dict) else payload["snapshot"]
