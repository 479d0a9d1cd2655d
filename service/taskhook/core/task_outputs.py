"""What comes out of a Livepeer task: ``output.<type>`` and the asset it describes.

docs/livepeer-webhooks.md section 4.5 (today's shape) and section 5 (the older ``import`` and
``transcode`` outputs). ``taskhook.core.task`` assembles these into ``TaskOutput``. The rules of
``taskhook.core.task_params`` apply here too.
"""

from typing import Any, Literal

from pydantic import Field

from taskhook.core.task_params import OutputPath
from taskhook.core.wire import WireModel

# --- assetSpec: the asset as the pipeline saw it ----------------------------------------------


class AssetHash(WireModel):
    """One entry of ``assetSpec.hash``."""

    hash: str | None = None
    algorithm: str | None = None


class Track(WireModel):
    """One audio or video track of ``assetSpec.videoSpec``; fields depend on the track type."""

    type: str | None = None  # "video" / "audio" today; left open for what a probe may report
    codec: str | None = None
    duration: float | None = None
    bitrate: float | None = None
    width: int | None = None
    height: int | None = None
    pixel_format: str | None = None
    fps: float | None = None
    channels: int | None = None
    sample_rate: int | None = None
    bit_depth: int | None = None


class VideoSpec(WireModel):
    """``assetSpec.videoSpec``: container format, duration, bitrate and tracks."""

    format: str | None = None
    duration: float | None = None
    bitrate: float | None = None
    tracks: list[Track] | None = None


class AssetSpec(WireModel):
    """The asset a task produced, as the pipeline saw it.

    Deliberately NOT the public Asset schema: it has no ``id`` and no ``source``.
    """

    name: str | None = None
    type: Literal["video", "audio"] | None = None
    size: float | None = None
    hash: list[AssetHash] | None = None
    video_spec: VideoSpec | None = None
    storage: dict[str, Any] | None = None


# --- outputs ----------------------------------------------------------------------------------


class UploadOutput(WireModel):
    """``output.upload``: the resulting asset (other keys may come along and are kept)."""

    asset_spec: AssetSpec
    video_file_path: str | None = None
    metadata_file_path: str | None = None


class ExportIpfsOutput(WireModel):
    """``output.export.ipfs``: where the exported video and its NFT metadata were pinned."""

    video_file_cid: str
    video_file_url: str | None = None
    video_file_gateway_url: str | None = None
    nft_metadata_cid: str | None = None
    nft_metadata_url: str | None = None
    nft_metadata_gateway_url: str | None = None


class ExportOutput(WireModel):
    """``output.export``. ``ipfs`` is optional: an export to a custom URL pins nothing."""

    ipfs: ExportIpfsOutput | None = None


class ExportDataIpfsOutput(WireModel):
    """``output.exportData.ipfs``: the CID of the stored data."""

    cid: str


class ExportDataOutput(WireModel):
    """``output.exportData``. ``ipfs`` is required: IPFS is export-data's only destination."""

    ipfs: ExportDataIpfsOutput


class InputVideo(WireModel):
    """``output.transcodeFile.input_video``: what the transcoder read."""

    duration: float | None = None
    size: float | None = None


class TranscodeFileOutput(WireModel):
    """``output.transcodeFile`` (not in the public schema, but sent): where renditions went."""

    base_url: str | None = None
    hls: OutputPath | None = None
    mp4: list[OutputPath] | None = None
    # Snake case on the wire: these keys come straight from the transcoder.
    request_id: str | None = Field(default=None, alias="request_id")
    input_video: InputVideo | None = Field(default=None, alias="input_video")


class ClipOutput(WireModel):
    """``output.clip``, and the ``asset`` of the older ``output.import`` / ``output.transcode``."""

    video_file_path: str | None = None
    metadata_file_path: str | None = None
    asset_spec: AssetSpec | None = None


class LegacyAssetOutput(WireModel):
    """``output.import`` / ``output.transcode`` of the older shape: ``{"asset": ...}``."""

    asset: ClipOutput | None = None
