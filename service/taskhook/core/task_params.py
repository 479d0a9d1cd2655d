"""What goes into a Livepeer task: ``params.<type>`` and the renditions they ask for.

docs/livepeer-webhooks.md section 4.4 (today's shape) and section 5 (the older ``import`` and
``transcode`` shape). ``taskhook.core.task`` assembles these into ``TaskParams``.

Rules applied throughout: a field the spec does not call required is optional; free-form objects
are ``dict[str, Any]``; numbers that may be fractional on the wire are ``float`` (strict mode
still accepts a JSON integer for them); unknown keys are kept (``WireModel``).
"""

from typing import Any, Literal, Self

from pydantic import Field, model_validator

from taskhook.core.wire import WireModel

CatalystPipelineStrategy = Literal[
    "catalyst",
    "catalyst_ffmpeg",
    "background_external",
    "background_mist",
    "fallback_external",
    "external",
]
"""The Catalyst pipeline a task was forced onto (admin / E2E testing only)."""

H264Profile = Literal["H264Baseline", "H264Main", "H264High", "H264ConstrainedHigh"]
"""The H.264 profile of a rendition."""

VideoEncoder = Literal["H.264", "HEVC", "VP8", "VP9"]
"""The encoder of a rendition, as today's schema spells it."""

# The first generated SDKs spelled the encoders in lower case; stored old-shape tasks may too.
LegacyVideoEncoder = Literal["H.264", "HEVC", "VP8", "VP9", "h264", "hevc", "vp8", "vp9"]
"""The encoder of an older ``FfmpegProfile``: today's spellings or the early lower-case ones."""


# --- Renditions -------------------------------------------------------------------------------


class _ProfileCommon(WireModel):
    """The rendition fields both profile shapes share, all optional."""

    quality: int | None = Field(default=None, ge=0, le=44)
    fps_den: int | None = Field(default=None, ge=1)
    gop: str | None = None
    profile: H264Profile | None = None


class TranscodeProfile(_ProfileCommon):
    """One output rendition of an upload or transcode-file task; only ``bitrate`` is required."""

    bitrate: int = Field(ge=400)
    width: int | None = Field(default=None, ge=128)
    height: int | None = Field(default=None, ge=128)
    name: str | None = None
    fps: int | None = Field(default=None, ge=0)
    encoder: VideoEncoder | None = None


class FfmpegProfile(_ProfileCommon):
    """The older rendition of ``params.transcode.profile`` (docs/livepeer-webhooks.md section 5).

    Livepeer names it without listing fields; Studio's ``ffmpeg-profile`` schema and the old
    SDK both require width, name, height, bitrate and fps, with TranscodeProfile's ranges.
    """

    width: int = Field(ge=128)
    name: str
    height: int = Field(ge=128)
    bitrate: int = Field(ge=400)
    fps: int = Field(ge=0)
    encoder: LegacyVideoEncoder | None = None


# --- params.upload / params.import ------------------------------------------------------------


class UploadParams(WireModel):
    """``params.upload``: where the source file came from and how to transcode it."""

    url: str | None = None
    encryption: dict[str, Any] | None = None  # arrives masked, e.g. {"key": "***"}
    # Explicit alias: the generator would camel-case the digit boundary into "c2Pa".
    c2pa: bool | None = Field(default=None, alias="c2pa")
    profiles: list[TranscodeProfile] | None = None
    target_segment_size_secs: float | None = None
    thumbnails: bool | None = None
    uploaded_object_key: str | None = None
    catalyst_pipeline_strategy: CatalystPipelineStrategy | None = None
    recorded_session_id: str | None = None  # older shape only


class ImportParams(UploadParams):
    """``params.import`` of the older shape: the same fields as ``params.upload``."""


# --- params.export / params.exportData --------------------------------------------------------


class ExportCustomParams(WireModel):
    """``params.export.custom``: an HTTP request that receives the exported file."""

    url: str
    method: str = "PUT"
    headers: dict[str, str] | None = None


class PinataJwt(WireModel):
    """Pinata credentials given as a JWT (masked on the wire)."""

    jwt: str


class PinataApiKey(WireModel):
    """Pinata credentials given as an API key and secret (masked on the wire)."""

    api_key: str
    api_secret: str


class IpfsExportParams(WireModel):
    """``params.export.ipfs`` / ``params.exportData.ipfs``: how to pin to IPFS."""

    nft_metadata_template: Literal["file", "player"] | None = None
    nft_metadata: dict[str, Any] | None = None
    pinata: PinataJwt | PinataApiKey | None = None


class ExportParams(WireModel):
    """``params.export``: exactly one destination, ``custom`` or ``ipfs``."""

    custom: ExportCustomParams | None = None
    ipfs: IpfsExportParams | None = None

    @model_validator(mode="after")
    def _exactly_one_destination(self) -> Self:
        if (self.custom is None) == (self.ipfs is None):
            raise ValueError("export params need exactly one of custom or ipfs")
        return self


class ExportDataParams(WireModel):
    """``params.exportData``: a JSON object to store on IPFS."""

    content: dict[str, Any]
    ipfs: IpfsExportParams | None = None
    type: str | None = None
    id: str | None = None


# --- params.transcode-file / params.transcode -------------------------------------------------


class UrlRef(WireModel):
    """``{url}``: a source or destination; object-store credentials arrive masked."""

    url: str | None = None


class OutputPath(WireModel):
    """``{path}``: where one output format is written, relative to the storage URL."""

    path: str | None = None


class TranscodeFileOutputs(WireModel):
    """``params.transcode-file.outputs``: the formats to write."""

    hls: OutputPath | None = None
    mp4: OutputPath | None = None
    fmp4: OutputPath | None = None


class CreatorId(WireModel):
    """The object form of a creator id; the wire may also carry a plain string."""

    type: Literal["unverified"]
    value: str


class TranscodeFileParams(WireModel):
    """``params.transcode-file``: transcode a file from one object store to another."""

    input: UrlRef | None = None
    storage: UrlRef | None = None
    outputs: TranscodeFileOutputs | None = None
    profiles: list[TranscodeProfile] | None = None
    target_segment_size_secs: float | None = None
    creator_id: CreatorId | str | None = None
    c2pa: bool | None = Field(default=None, alias="c2pa")
    catalyst_pipeline_strategy: CatalystPipelineStrategy | None = None


class TranscodeParams(WireModel):
    """``params.transcode`` of the older shape: one rendition of an existing asset."""

    profile: FfmpegProfile | None = None


# --- params.clip, and the older top-level clip ------------------------------------------------


class ClipStrategy(WireModel):
    """Which part of which playback to clip. Times are Unix ms, typed as numbers by Studio."""

    start_time: float | None = None
    end_time: float | None = None
    playback_id: str | None = None


class ClipParams(WireModel):
    """``params.clip``, and also the older top-level ``clip`` field of a Task (same fields)."""

    url: str | None = None
    clip_strategy: ClipStrategy | None = None
    catalyst_pipeline_strategy: CatalystPipelineStrategy | None = None
    session_id: str | None = None
    input_id: str | None = None
    source_object_store_id: str | None = None
