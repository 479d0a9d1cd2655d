"""The Task snapshot model: what it accepts, what it rejects and where, and what it keeps.

Spec: docs/livepeer-webhooks.md sections 4 (today's Task), 5 (the older shape) and 6 (strict
where it matters, lenient where the wire is). Every rejection is checked on the ``loc`` of the
failing field.
"""

import copy
import json
from collections.abc import Callable
from typing import Any, get_args

import jsonschema
import pytest
from pydantic import BaseModel, ValidationError

from taskhook.core import task as task_module
from taskhook.core import task_outputs as task_outputs_module
from taskhook.core import task_params as task_params_module
from taskhook.core.task import (
    Task,
    TaskOutput,
    TaskParams,
    TaskPhase,
    TaskStatus,
    TaskType,
)
from taskhook.core.task_outputs import (
    AssetHash,
    AssetSpec,
    ClipOutput,
    ExportDataIpfsOutput,
    ExportDataOutput,
    ExportIpfsOutput,
    ExportOutput,
    InputVideo,
    LegacyAssetOutput,
    Track,
    TranscodeFileOutput,
    UploadOutput,
    VideoSpec,
)
from taskhook.core.task_params import (
    ClipParams,
    ClipStrategy,
    CreatorId,
    ExportCustomParams,
    ExportDataParams,
    ExportParams,
    FfmpegProfile,
    ImportParams,
    IpfsExportParams,
    OutputPath,
    PinataApiKey,
    PinataJwt,
    TranscodeFileOutputs,
    TranscodeFileParams,
    TranscodeParams,
    TranscodeProfile,
    UploadParams,
    UrlRef,
)
from taskhook.core.wire import WireModel
from tests.support.deliveries import load_sample, sample_names

Doc = dict[str, Any]
Loc = tuple[str | int, ...]


def _snapshot(sample: str) -> Doc:
    snapshot: Doc = load_sample(sample)["payload"]["task"]["snapshot"]
    return snapshot


# --- Valid examples, one per component --------------------------------------------------------

PROFILE: Doc = {
    "name": "720p",
    "width": 1280,
    "height": 720,
    "bitrate": 3_000_000,
    "quality": 23,
    "fps": 30,
    "fpsDen": 1,
    "gop": "2",
    "profile": "H264High",
    "encoder": "H.264",
}
FFMPEG_PROFILE: Doc = {
    "width": 1280,
    "name": "720p",
    "height": 720,
    "bitrate": 4000,
    "fps": 30,
    "fpsDen": 1,
    "gop": "60",
    "profile": "H264Main",
    "encoder": "h264",
}
UPLOAD_PARAMS: Doc = {
    "url": "https://cdn.example.com/videos/filename.mp4",
    "encryption": {"key": "***"},
    "c2pa": True,
    "profiles": [PROFILE, {"bitrate": 400}],
    "targetSegmentSizeSecs": 6,
    "thumbnails": True,
    "uploadedObjectKey": "directUpload/abc/source",
    "catalystPipelineStrategy": "catalyst_ffmpeg",
}
IMPORT_PARAMS: Doc = {
    "url": "https://cdn.example.com/videos/filename.mp4",
    "encryption": {"encryptedKey": "***"},
    "recordedSessionId": "78df0075-b5f3-4683-a618-1086faca35dc",
}
EXPORT_CUSTOM: Doc = {
    "url": "https://storage.example.com/bucket/out.mp4?sig=***",
    "method": "POST",
    "headers": {"authorization": "***"},
}
PINATA_JWT: Doc = {"jwt": "***"}
PINATA_API_KEY: Doc = {"apiKey": "***", "apiSecret": "***"}
IPFS_EXPORT: Doc = {
    "nftMetadataTemplate": "player",
    "nftMetadata": {"name": "My video", "properties": {"edition": 1}},
    "pinata": PINATA_JWT,
}
EXPORT_DATA_PARAMS: Doc = {
    "content": {"data": "Hello, World!"},
    "ipfs": {"pinata": PINATA_API_KEY},
    "type": "text/plain",
    "id": "09f8b46c-61a0-4254-9875-f71f4c605bc7",
}
TRANSCODE_FILE_OUTPUTS: Doc = {
    "hls": {"path": "/samplevideo/hls"},
    "mp4": {"path": "/samplevideo/mp4"},
    "fmp4": {"path": "/samplevideo/fmp4"},
}
CREATOR_ID: Doc = {"type": "unverified", "value": "user123"}
TRANSCODE_FILE_PARAMS: Doc = {
    "input": {"url": "s3+https://***:***@storage.example.com/bucket/source/input.mp4"},
    "storage": {"url": "s3+https://***:***@storage.example.com/bucket"},
    "outputs": TRANSCODE_FILE_OUTPUTS,
    "profiles": [PROFILE],
    "targetSegmentSizeSecs": 10,
    "creatorId": CREATOR_ID,
    "c2pa": False,
    "catalystPipelineStrategy": "background_external",
}
CLIP_STRATEGY: Doc = {
    "startTime": 1_726_570_000_000,
    "endTime": 1_726_570_010_000.5,
    "playbackId": "eaw4nk06ts2d0mzb",
}
CLIP_PARAMS: Doc = {
    "url": "https://cdn.example.com/hls/eaw4nk06ts2d0mzb/index.m3u8",
    "clipStrategy": CLIP_STRATEGY,
    "catalystPipelineStrategy": "catalyst",
    "sessionId": "d32ae9e6-c459-4931-9898-e86e2f5e7e16",
    "inputId": "09f8b46c-61a0-4254-9875-f71f4c605bc7",
    "sourceObjectStoreId": "a0e1c6e5-1b4c-4e1a-9d34-5a2a3f1f0b11",
}
VIDEO_TRACK: Doc = {
    "type": "video",
    "codec": "h264",
    "duration": 23.8328,
    "bitrate": 1_000_000,
    "width": 1920,
    "height": 1080,
    "pixelFormat": "yuv420p",
    "fps": 29.97,
}
AUDIO_TRACK: Doc = {
    "type": "audio",
    "codec": "aac",
    "duration": 23.8238,
    "bitrate": 128_000,
    "channels": 2,
    "sampleRate": 44100,
    "bitDepth": 16,
}
VIDEO_SPEC: Doc = {
    "format": "mp4",
    "duration": 23.8328,
    "bitrate": 1_128_000,
    "tracks": [VIDEO_TRACK, AUDIO_TRACK],
}
ASSET_HASH: Doc = {"hash": "9b560b28b85378a5004117539196ab24", "algorithm": "md5"}
ASSET_SPEC: Doc = {
    "name": "filename.mp4",
    "type": "video",
    "size": 84_934_509,
    "hash": [ASSET_HASH, {"hash": "e3b0c44298fc1c14", "algorithm": "sha256"}],
    "videoSpec": VIDEO_SPEC,
    "storage": {"ipfs": {"spec": {"nftMetadataTemplate": "file"}}},
}
UPLOAD_OUTPUT: Doc = {
    "assetSpec": ASSET_SPEC,
    "videoFilePath": "https://storage.example.com/out/video.mp4",
    "metadataFilePath": "https://storage.example.com/out/video.json",
}
EXPORT_IPFS_OUTPUT: Doc = {
    "videoFileCid": "Qmabc123xyz341",
    "videoFileUrl": "ipfs://Qmabc123xyz341",
    "videoFileGatewayUrl": "https://gateway.ipfs.io/ipfs/Qmabc123xyz341",
    "nftMetadataCid": "Qmdef456",
    "nftMetadataUrl": "ipfs://Qmdef456",
    "nftMetadataGatewayUrl": "https://gateway.ipfs.io/ipfs/Qmdef456",
}
EXPORT_DATA_IPFS_OUTPUT: Doc = {
    "cid": "bafybeihoqtemwitqajy6d654tmghqqvxmzgblddj2egst6yilplr5num6u"
}
INPUT_VIDEO: Doc = {"duration": 23.8328, "size": 84_934_509}
TRANSCODE_FILE_OUTPUT: Doc = {
    "baseUrl": "s3+https://***:***@storage.example.com/bucket",
    "hls": {"path": "/samplevideo/hls/index.m3u8"},
    "mp4": [{"path": "/samplevideo/mp4/720p.mp4"}, {"path": "/samplevideo/mp4/360p.mp4"}],
    "request_id": "4c9a7c5e-7d2b-4c1e-9f0a-1b2c3d4e5f60",
    "input_video": INPUT_VIDEO,
}
CLIP_OUTPUT: Doc = {
    "videoFilePath": "https://storage.example.com/clips/clip.mp4",
    "metadataFilePath": "https://storage.example.com/clips/clip.json",
    "assetSpec": {"name": "clip.mp4", "type": "video", "size": 1024.0, "hash": None},
}
LEGACY_ASSET_OUTPUT: Doc = {"asset": CLIP_OUTPUT}
STATUS_RUNNING: Doc = {
    "phase": "running",
    "updatedAt": 1_726_570_042_000,
    "progress": 0.5,
    "retries": 1,
    "errorMessage": "transient: upstream timed out",
}
STATUS_DONE: Doc = {"phase": "completed", "updatedAt": 1_726_570_090_000}


def _task(type_: str, *, params: Doc | None = None, output: Doc | None = None, **more: Any) -> Doc:
    """A task snapshot of ``type_`` with every top-level field set."""
    doc: Doc = {
        "id": "09f8b46c-61a0-4254-9875-f71f4c605bc7",
        "type": type_,
        "createdAt": 1_726_570_000_000,
        "scheduledAt": 1_726_570_000_050,
        "inputAssetId": "1b2c3d4e-0000-4a9b-8c7d-6e5f4a3b2c1d",
        "outputAssetId": "5b3c1d2e-7f80-4a9b-8c7d-6e5f4a3b2c1d",
        "projectId": "aac12556-4d65-4d34-9fb6-d1f0985eb0a9",
        "requesterId": "f00dfeed",
        "userId": "66e2161c-7670-4d05-b71d-da2d6979556f",
        "status": STATUS_DONE,
    }
    if params is not None:
        doc["params"] = params
    if output is not None:
        doc["output"] = output
    doc.update(more)
    return copy.deepcopy(doc)


UPLOAD_TASK = _task("upload", params={"upload": UPLOAD_PARAMS}, output={"upload": UPLOAD_OUTPUT})
EXPORT_CUSTOM_TASK = _task("export", params={"export": {"custom": EXPORT_CUSTOM}})
EXPORT_IPFS_TASK = _task(
    "export",
    params={"export": {"ipfs": IPFS_EXPORT}},
    output={"export": {"ipfs": EXPORT_IPFS_OUTPUT}},
)
EXPORT_DATA_TASK = _task(
    "export-data",
    params={"exportData": EXPORT_DATA_PARAMS},
    output={"exportData": {"ipfs": EXPORT_DATA_IPFS_OUTPUT}},
)
TRANSCODE_FILE_TASK = _task(
    "transcode-file",
    params={"transcode-file": TRANSCODE_FILE_PARAMS},
    output={"transcodeFile": TRANSCODE_FILE_OUTPUT},
)
CLIP_TASK = _task("clip", params={"clip": CLIP_PARAMS}, output={"clip": CLIP_OUTPUT})
OLD_IMPORT_TASK = _task(
    "import", params={"import": IMPORT_PARAMS}, output={"import": LEGACY_ASSET_OUTPUT}
)
OLD_TRANSCODE_TASK = _task(
    "transcode",
    params={"transcode": {"profile": FFMPEG_PROFILE}},
    output={"transcode": LEGACY_ASSET_OUTPUT},
)
OLD_CLIP_TASK = _task("clip", clip=CLIP_PARAMS, output={"clip": CLIP_OUTPUT})
OLD_UPLOAD_TASK = _task(
    "upload",
    params={"upload": {"url": "https://cdn.example.com/v.mp4", "recordedSessionId": "78df0075"}},
)
RUNNING_TASK = _task("upload", params={"upload": UPLOAD_PARAMS}, status=STATUS_RUNNING)
MINIMAL_TASK: Doc = {"id": "t1", "type": "upload", "status": {"phase": "pending", "updatedAt": 0}}

ALL_TASKS = [
    pytest.param(UPLOAD_TASK, id="upload-completed-with-asset-spec"),
    pytest.param(RUNNING_TASK, id="upload-running-with-progress-retries-error"),
    pytest.param(EXPORT_CUSTOM_TASK, id="export-to-custom-url"),
    pytest.param(EXPORT_IPFS_TASK, id="export-to-ipfs-with-output"),
    pytest.param(EXPORT_DATA_TASK, id="export-data"),
    pytest.param(TRANSCODE_FILE_TASK, id="transcode-file-with-transcodeFile-output"),
    pytest.param(CLIP_TASK, id="clip-in-params"),
    pytest.param(OLD_IMPORT_TASK, id="older-import"),
    pytest.param(OLD_TRANSCODE_TASK, id="older-transcode-with-ffmpeg-profile"),
    pytest.param(OLD_CLIP_TASK, id="older-clip-at-top-level"),
    pytest.param(OLD_UPLOAD_TASK, id="older-upload-with-recordedSessionId"),
    pytest.param(MINIMAL_TASK, id="only-id-type-status"),
]


# --- Samples ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", sample_names())
def test_every_sample_snapshot_validates_from_python_and_from_json(sample: str) -> None:
    snapshot = _snapshot(sample)

    task = Task.model_validate(snapshot)

    assert Task.model_validate_json(json.dumps(snapshot)) == task
    assert task.id == snapshot["id"]
    assert task.type == snapshot["type"]
    assert task.status.updated_at == snapshot["status"]["updatedAt"]
    assert task.model_dump(by_alias=True, exclude_unset=True) == snapshot


@pytest.mark.parametrize("sample", sample_names())
def test_every_sample_snapshot_validates_against_the_generated_json_schema(sample: str) -> None:
    validator = jsonschema.Draft202012Validator(Task.model_json_schema(by_alias=True))
    assert [error.message for error in validator.iter_errors(_snapshot(sample))] == []


# --- Valid examples ---------------------------------------------------------------------------


@pytest.mark.parametrize("doc", ALL_TASKS)
def test_a_valid_task_of_every_type_and_shape_validates_and_dumps_back_unchanged(doc: Doc) -> None:
    task = Task.model_validate(doc)

    assert task.model_dump(by_alias=True, exclude_unset=True) == doc
    assert Task.model_validate_json(json.dumps(doc)) == task


COMPONENT_EXAMPLES: list[tuple[str, type[WireModel], Doc]] = [
    ("TranscodeProfile", TranscodeProfile, PROFILE),
    ("FfmpegProfile", FfmpegProfile, FFMPEG_PROFILE),
    ("UploadParams", UploadParams, UPLOAD_PARAMS),
    ("ImportParams", ImportParams, IMPORT_PARAMS),
    ("ExportCustomParams", ExportCustomParams, EXPORT_CUSTOM),
    ("PinataJwt", PinataJwt, PINATA_JWT),
    ("PinataApiKey", PinataApiKey, PINATA_API_KEY),
    ("IpfsExportParams", IpfsExportParams, IPFS_EXPORT),
    ("ExportParams-custom", ExportParams, {"custom": EXPORT_CUSTOM}),
    ("ExportParams-ipfs", ExportParams, {"ipfs": IPFS_EXPORT}),
    ("ExportDataParams", ExportDataParams, EXPORT_DATA_PARAMS),
    ("UrlRef", UrlRef, {"url": "s3+https://***:***@host/bucket"}),
    ("OutputPath", OutputPath, {"path": "/out/hls"}),
    ("TranscodeFileOutputs", TranscodeFileOutputs, TRANSCODE_FILE_OUTPUTS),
    ("CreatorId", CreatorId, CREATOR_ID),
    ("TranscodeFileParams", TranscodeFileParams, TRANSCODE_FILE_PARAMS),
    ("TranscodeParams", TranscodeParams, {"profile": FFMPEG_PROFILE}),
    ("ClipStrategy", ClipStrategy, CLIP_STRATEGY),
    ("ClipParams", ClipParams, CLIP_PARAMS),
    ("AssetHash", AssetHash, ASSET_HASH),
    ("Track-video", Track, VIDEO_TRACK),
    ("Track-audio", Track, AUDIO_TRACK),
    ("VideoSpec", VideoSpec, VIDEO_SPEC),
    ("AssetSpec", AssetSpec, ASSET_SPEC),
    ("UploadOutput", UploadOutput, UPLOAD_OUTPUT),
    ("ExportIpfsOutput", ExportIpfsOutput, EXPORT_IPFS_OUTPUT),
    ("ExportOutput", ExportOutput, {"ipfs": EXPORT_IPFS_OUTPUT}),
    ("ExportDataIpfsOutput", ExportDataIpfsOutput, EXPORT_DATA_IPFS_OUTPUT),
    ("ExportDataOutput", ExportDataOutput, {"ipfs": EXPORT_DATA_IPFS_OUTPUT}),
    ("InputVideo", InputVideo, INPUT_VIDEO),
    ("TranscodeFileOutput", TranscodeFileOutput, TRANSCODE_FILE_OUTPUT),
    ("ClipOutput", ClipOutput, CLIP_OUTPUT),
    ("LegacyAssetOutput", LegacyAssetOutput, LEGACY_ASSET_OUTPUT),
    ("TaskStatus", TaskStatus, STATUS_RUNNING),
    ("TaskParams", TaskParams, TRANSCODE_FILE_TASK["params"]),
    ("TaskOutput", TaskOutput, UPLOAD_TASK["output"]),
    ("Task", Task, UPLOAD_TASK),
]
COMPONENTS = [pytest.param(model, doc, id=name) for name, model, doc in COMPONENT_EXAMPLES]


@pytest.mark.parametrize(("model", "doc"), COMPONENTS)
def test_a_valid_example_of_every_component_validates_and_dumps_back_unchanged(
    model: type[WireModel], doc: Doc
) -> None:
    assert model.model_validate(doc).model_dump(by_alias=True, exclude_unset=True) == doc


def test_every_public_model_has_a_valid_example_above() -> None:
    public_models = {
        name
        for module in (task_module, task_params_module, task_outputs_module)
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and isinstance(obj, type)
        and issubclass(obj, BaseModel)
        and obj.__module__ == module.__name__
    }
    covered = {model.__name__ for _, model, _ in COMPONENT_EXAMPLES}

    assert public_models - covered == set()


@pytest.mark.parametrize("type_", get_args(TaskType))
def test_every_task_type_is_accepted(type_: str) -> None:
    assert Task.model_validate({**MINIMAL_TASK, "type": type_}).type == type_


@pytest.mark.parametrize("phase", get_args(TaskPhase))
def test_every_task_phase_is_accepted(phase: str) -> None:
    doc = {**MINIMAL_TASK, "status": {"phase": phase, "updatedAt": 1}}

    assert Task.model_validate(doc).status.phase == phase


@pytest.mark.parametrize(
    "creator_id",
    [
        pytest.param(CREATOR_ID, id="object"),
        pytest.param("user123", id="plain-string"),
    ],
)
def test_a_creator_id_is_an_unverified_object_or_a_plain_string(creator_id: object) -> None:
    params = TranscodeFileParams.model_validate({"creatorId": creator_id})

    assert params.model_dump(by_alias=True, exclude_unset=True) == {"creatorId": creator_id}


@pytest.mark.parametrize(
    ("pinata", "expected"),
    [
        pytest.param(PINATA_JWT, PinataJwt, id="jwt"),
        pytest.param(PINATA_API_KEY, PinataApiKey, id="api-key-and-secret"),
    ],
)
def test_pinata_credentials_are_a_jwt_or_an_api_key_and_secret(
    pinata: Doc, expected: type[WireModel]
) -> None:
    assert isinstance(IpfsExportParams.model_validate({"pinata": pinata}).pinata, expected)


def test_an_export_custom_method_defaults_to_put() -> None:
    custom = ExportCustomParams.model_validate({"url": "https://example.com/out.mp4"})

    assert custom.method == "PUT"


def test_an_asset_spec_is_not_a_full_asset_so_it_needs_no_id_or_source() -> None:
    output = UploadOutput.model_validate({"assetSpec": {}})

    assert output.asset_spec == AssetSpec()


@pytest.mark.parametrize(
    ("path", "as_int", "as_float"),
    [
        pytest.param(("status", "progress"), 1, 0.25, id="status.progress"),
        pytest.param(
            ("params", "upload", "targetSegmentSizeSecs"), 6, 1.5, id="upload.targetSegmentSizeSecs"
        ),
        pytest.param(("output", "upload", "assetSpec", "size"), 100, 100.5, id="assetSpec.size"),
        pytest.param(
            ("output", "upload", "assetSpec", "videoSpec", "duration"), 24, 23.8, id="duration"
        ),
        pytest.param(
            ("output", "upload", "assetSpec", "videoSpec", "bitrate"), 1000, 999.5, id="bitrate"
        ),
        pytest.param(
            ("output", "upload", "assetSpec", "videoSpec", "tracks", 0, "fps"),
            30,
            29.97,
            id="track.fps",
        ),
        pytest.param(
            ("output", "upload", "assetSpec", "videoSpec", "tracks", 1, "bitrate"),
            128000,
            127999.9,
            id="track.bitrate",
        ),
        pytest.param(
            ("output", "upload", "assetSpec", "videoSpec", "tracks", 1, "duration"),
            24,
            23.82,
            id="track.duration",
        ),
    ],
)
def test_a_number_that_may_be_fractional_accepts_ints_and_floats(
    path: Loc, as_int: int, as_float: float
) -> None:
    base = _task("upload", params={"upload": UPLOAD_PARAMS}, output={"upload": UPLOAD_OUTPUT})
    for value in (as_int, as_float):
        doc = _changed(base, path, value)
        assert _value_at(Task.model_validate(doc).model_dump(by_alias=True), path) == value
        assert Task.model_validate_json(json.dumps(doc)) == Task.model_validate(doc)


@pytest.mark.parametrize(
    ("path", "as_int", "as_float"),
    [
        pytest.param(("params", "transcode-file", "targetSegmentSizeSecs"), 10, 2.5, id="params"),
        pytest.param(("output", "transcodeFile", "input_video", "duration"), 24, 23.8, id="dur"),
        pytest.param(("output", "transcodeFile", "input_video", "size"), 100, 100.5, id="size"),
    ],
)
def test_a_transcode_file_number_that_may_be_fractional_accepts_ints_and_floats(
    path: Loc, as_int: int, as_float: float
) -> None:
    for value in (as_int, as_float):
        task = Task.model_validate(_changed(TRANSCODE_FILE_TASK, path, value))
        assert _value_at(task.model_dump(by_alias=True), path) == value


@pytest.mark.parametrize("when", [1_726_570_000_000, 1_726_570_000_000.25], ids=["int", "float"])
def test_clip_strategy_times_accept_ints_and_floats(when: float) -> None:
    strategy = ClipStrategy.model_validate({"startTime": when, "endTime": when})

    assert strategy.start_time == when


@pytest.mark.parametrize(
    "alias",
    [
        "transcode-file",
        "exportData",
        "transcodeFile",
        "request_id",
        "input_video",
        "import",
        "c2pa",
    ],
)
def test_wire_keys_that_are_not_camel_case_appear_in_the_json_schema(alias: str) -> None:
    schema = json.dumps(Task.model_json_schema(by_alias=True))

    assert f'"{alias}"' in schema


# --- Rejections -------------------------------------------------------------------------------

DELETE = object()


def _changed(doc: Doc, path: Loc, value: object) -> Doc:
    """A deep copy of ``doc`` with ``path`` set to ``value``, or removed if ``value is DELETE``."""
    new = copy.deepcopy(doc)
    parent: Any = new
    for key in path[:-1]:
        parent = parent[key]
    if value is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return new


def _value_at(doc: Any, path: Loc) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _reject(
    case_id: str, base: Doc, path: Loc, value: object, error: str, loc: Loc | None = None
) -> Any:
    """A rejection case: set ``path`` to ``value``; expect ``error`` at ``loc`` (default: path)."""
    return pytest.param(base, path, value, loc if loc is not None else path, error, id=case_id)


UP = ("params", "upload")
PROFILE0 = (*UP, "profiles", 0)
FFMPEG = ("params", "transcode", "profile")
TF = ("params", "transcode-file")
ASSET = ("output", "upload", "assetSpec")
TF_OUT = ("output", "transcodeFile")

WRONG_ENUMS = [
    _reject("task-type", MINIMAL_TASK, ("type",), "livestream", "literal_error"),
    _reject("task-type-case", MINIMAL_TASK, ("type",), "Upload", "literal_error"),
    _reject("task-type-underscore", MINIMAL_TASK, ("type",), "transcode_file", "literal_error"),
    _reject("status-phase", MINIMAL_TASK, ("status", "phase"), "done", "literal_error"),
    _reject(
        "upload-pipeline",
        UPLOAD_TASK,
        (*UP, "catalystPipelineStrategy"),
        "gpu",
        "literal_error",
    ),
    _reject(
        "transcode-file-pipeline",
        TRANSCODE_FILE_TASK,
        (*TF, "catalystPipelineStrategy"),
        "mist",
        "literal_error",
    ),
    _reject(
        "clip-pipeline",
        CLIP_TASK,
        ("params", "clip", "catalystPipelineStrategy"),
        "x",
        "literal_error",
    ),
    _reject(
        "older-top-level-clip-pipeline",
        OLD_CLIP_TASK,
        ("clip", "catalystPipelineStrategy"),
        "x",
        "literal_error",
    ),
    _reject("profile-profile", UPLOAD_TASK, (*PROFILE0, "profile"), "H265Main", "literal_error"),
    _reject("profile-encoder", UPLOAD_TASK, (*PROFILE0, "encoder"), "AV1", "literal_error"),
    _reject(
        "profile-encoder-lower-case", UPLOAD_TASK, (*PROFILE0, "encoder"), "h264", "literal_error"
    ),
    _reject("ffmpeg-encoder", OLD_TRANSCODE_TASK, (*FFMPEG, "encoder"), "av1", "literal_error"),
    _reject("ffmpeg-profile", OLD_TRANSCODE_TASK, (*FFMPEG, "profile"), "high", "literal_error"),
    _reject(
        "nft-metadata-template",
        EXPORT_IPFS_TASK,
        ("params", "export", "ipfs", "nftMetadataTemplate"),
        "gallery",
        "literal_error",
    ),
    _reject(
        "creator-id-type",
        TRANSCODE_FILE_TASK,
        (*TF, "creatorId", "type"),
        "verified",
        "literal_error",
        loc=(*TF, "creatorId", "CreatorId", "type"),
    ),
    _reject("asset-spec-type", UPLOAD_TASK, (*ASSET, "type"), "image", "literal_error"),
]

MISSING_REQUIRED = [
    _reject("task-id", MINIMAL_TASK, ("id",), DELETE, "missing"),
    _reject("task-type", MINIMAL_TASK, ("type",), DELETE, "missing"),
    _reject("task-status", MINIMAL_TASK, ("status",), DELETE, "missing"),
    _reject("status-phase", MINIMAL_TASK, ("status", "phase"), DELETE, "missing"),
    _reject("status-updatedAt", MINIMAL_TASK, ("status", "updatedAt"), DELETE, "missing"),
    _reject("profile-bitrate", UPLOAD_TASK, (*PROFILE0, "bitrate"), DELETE, "missing"),
    _reject(
        "transcode-file-profile-bitrate",
        TRANSCODE_FILE_TASK,
        (*TF, "profiles", 0, "bitrate"),
        DELETE,
        "missing",
    ),
    _reject("ffmpeg-width", OLD_TRANSCODE_TASK, (*FFMPEG, "width"), DELETE, "missing"),
    _reject("ffmpeg-height", OLD_TRANSCODE_TASK, (*FFMPEG, "height"), DELETE, "missing"),
    _reject("ffmpeg-name", OLD_TRANSCODE_TASK, (*FFMPEG, "name"), DELETE, "missing"),
    _reject("ffmpeg-bitrate", OLD_TRANSCODE_TASK, (*FFMPEG, "bitrate"), DELETE, "missing"),
    _reject("ffmpeg-fps", OLD_TRANSCODE_TASK, (*FFMPEG, "fps"), DELETE, "missing"),
    _reject(
        "export-custom-url",
        EXPORT_CUSTOM_TASK,
        ("params", "export", "custom", "url"),
        DELETE,
        "missing",
    ),
    _reject(
        "export-data-content",
        EXPORT_DATA_TASK,
        ("params", "exportData", "content"),
        DELETE,
        "missing",
    ),
    _reject(
        "pinata-jwt-and-api-key-both-incomplete",
        EXPORT_IPFS_TASK,
        ("params", "export", "ipfs", "pinata"),
        {"apiKey": "***"},
        "missing",
        loc=("params", "export", "ipfs", "pinata", "PinataApiKey", "apiSecret"),
    ),
    _reject(
        "creator-id-value",
        TRANSCODE_FILE_TASK,
        (*TF, "creatorId", "value"),
        DELETE,
        "missing",
        loc=(*TF, "creatorId", "CreatorId", "value"),
    ),
    _reject("upload-output-assetSpec", UPLOAD_TASK, ASSET, DELETE, "missing"),
    _reject(
        "export-output-videoFileCid",
        EXPORT_IPFS_TASK,
        ("output", "export", "ipfs", "videoFileCid"),
        DELETE,
        "missing",
    ),
    _reject(
        "export-data-output-cid",
        EXPORT_DATA_TASK,
        ("output", "exportData", "ipfs", "cid"),
        DELETE,
        "missing",
    ),
    _reject(
        "export-data-output-ipfs",
        EXPORT_DATA_TASK,
        ("output", "exportData", "ipfs"),
        DELETE,
        "missing",
    ),
]

WRONG_TYPES = [
    _reject("task-id-number", MINIMAL_TASK, ("id",), 123, "string_type"),
    _reject("task-id-empty", MINIMAL_TASK, ("id",), "", "string_too_short"),
    _reject("task-type-number", MINIMAL_TASK, ("type",), 1, "literal_error"),
    _reject("createdAt-string", UPLOAD_TASK, ("createdAt",), "1726570000000", "int_type"),
    _reject("createdAt-bool", UPLOAD_TASK, ("createdAt",), True, "int_type"),
    _reject("scheduledAt-fraction", UPLOAD_TASK, ("scheduledAt",), 1.5, "int_type"),
    _reject("projectId-number", UPLOAD_TASK, ("projectId",), 7, "string_type"),
    _reject("status-string", MINIMAL_TASK, ("status",), "pending", "model_type"),
    _reject("updatedAt-string", MINIMAL_TASK, ("status", "updatedAt"), "1", "int_type"),
    _reject("updatedAt-bool", MINIMAL_TASK, ("status", "updatedAt"), True, "int_type"),
    _reject("progress-string", RUNNING_TASK, ("status", "progress"), "0.5", "float_type"),
    _reject("progress-bool", RUNNING_TASK, ("status", "progress"), True, "float_type"),
    _reject("retries-bool", RUNNING_TASK, ("status", "retries"), True, "int_type"),
    _reject("retries-fraction", RUNNING_TASK, ("status", "retries"), 1.5, "int_type"),
    _reject("errorMessage-number", RUNNING_TASK, ("status", "errorMessage"), 500, "string_type"),
    _reject("params-string", MINIMAL_TASK, ("params",), "upload", "model_type"),
    _reject("upload-url-number", UPLOAD_TASK, (*UP, "url"), 1, "string_type"),
    _reject("upload-c2pa-string", UPLOAD_TASK, (*UP, "c2pa"), "true", "bool_type"),
    _reject("upload-thumbnails-int", UPLOAD_TASK, (*UP, "thumbnails"), 1, "bool_type"),
    _reject("upload-encryption-string", UPLOAD_TASK, (*UP, "encryption"), "***", "dict_type"),
    _reject("upload-profiles-object", UPLOAD_TASK, (*UP, "profiles"), PROFILE, "list_type"),
    _reject(
        "upload-segment-size-string",
        UPLOAD_TASK,
        (*UP, "targetSegmentSizeSecs"),
        "6",
        "float_type",
    ),
    _reject("profile-bitrate-string", UPLOAD_TASK, (*PROFILE0, "bitrate"), "3000000", "int_type"),
    _reject("profile-bitrate-bool", UPLOAD_TASK, (*PROFILE0, "bitrate"), True, "int_type"),
    _reject("profile-bitrate-fraction", UPLOAD_TASK, (*PROFILE0, "bitrate"), 3e6 + 0.5, "int_type"),
    _reject("profile-width-string", UPLOAD_TASK, (*PROFILE0, "width"), "1280", "int_type"),
    _reject("profile-gop-number", UPLOAD_TASK, (*PROFILE0, "gop"), 2, "string_type"),
    _reject("profile-name-number", UPLOAD_TASK, (*PROFILE0, "name"), 720, "string_type"),
    _reject("ffmpeg-fps-string", OLD_TRANSCODE_TASK, (*FFMPEG, "fps"), "30", "int_type"),
    _reject(
        "export-custom-header-number",
        EXPORT_CUSTOM_TASK,
        ("params", "export", "custom", "headers", "x-retries"),
        3,
        "string_type",
    ),
    _reject(
        "export-custom-method-number",
        EXPORT_CUSTOM_TASK,
        ("params", "export", "custom", "method"),
        1,
        "string_type",
    ),
    _reject(
        "export-data-content-string",
        EXPORT_DATA_TASK,
        ("params", "exportData", "content"),
        "hello",
        "dict_type",
    ),
    _reject(
        "nft-metadata-list",
        EXPORT_IPFS_TASK,
        ("params", "export", "ipfs", "nftMetadata"),
        [],
        "dict_type",
    ),
    _reject(
        "creator-id-number",
        TRANSCODE_FILE_TASK,
        (*TF, "creatorId"),
        42,
        "string_type",
        loc=(*TF, "creatorId", "str"),
    ),
    _reject("transcode-file-c2pa-int", TRANSCODE_FILE_TASK, (*TF, "c2pa"), 0, "bool_type"),
    _reject(
        "transcode-file-input-url-number",
        TRANSCODE_FILE_TASK,
        (*TF, "input", "url"),
        1,
        "string_type",
    ),
    _reject(
        "transcode-file-hls-path-number",
        TRANSCODE_FILE_TASK,
        (*TF, "outputs", "hls", "path"),
        1,
        "string_type",
    ),
    _reject(
        "clip-start-time-string",
        CLIP_TASK,
        ("params", "clip", "clipStrategy", "startTime"),
        "now",
        "float_type",
    ),
    _reject(
        "older-clip-end-time-bool",
        OLD_CLIP_TASK,
        ("clip", "clipStrategy", "endTime"),
        True,
        "float_type",
    ),
    _reject("asset-size-string", UPLOAD_TASK, (*ASSET, "size"), "84934509", "float_type"),
    _reject("asset-hash-string", UPLOAD_TASK, (*ASSET, "hash"), "9b56", "list_type"),
    _reject("asset-storage-string", UPLOAD_TASK, (*ASSET, "storage"), "ipfs", "dict_type"),
    _reject(
        "video-spec-duration-bool",
        UPLOAD_TASK,
        (*ASSET, "videoSpec", "duration"),
        True,
        "float_type",
    ),
    _reject(
        "track-fps-string",
        UPLOAD_TASK,
        (*ASSET, "videoSpec", "tracks", 0, "fps"),
        "30",
        "float_type",
    ),
    _reject(
        "track-width-fraction",
        UPLOAD_TASK,
        (*ASSET, "videoSpec", "tracks", 0, "width"),
        1920.5,
        "int_type",
    ),
    _reject(
        "export-output-cid-number",
        EXPORT_IPFS_TASK,
        ("output", "export", "ipfs", "videoFileCid"),
        1,
        "string_type",
    ),
    _reject("transcodeFile-mp4-object", TRANSCODE_FILE_TASK, (*TF_OUT, "mp4"), {}, "list_type"),
    _reject(
        "transcodeFile-request-id-number",
        TRANSCODE_FILE_TASK,
        (*TF_OUT, "request_id"),
        123,
        "string_type",
    ),
    _reject(
        "transcodeFile-input-video-size-string",
        TRANSCODE_FILE_TASK,
        (*TF_OUT, "input_video", "size"),
        "big",
        "float_type",
    ),
    _reject(
        "older-import-recorded-session-number",
        OLD_IMPORT_TASK,
        ("params", "import", "recordedSessionId"),
        1,
        "string_type",
    ),
    _reject(
        "older-import-output-asset-string",
        OLD_IMPORT_TASK,
        ("output", "import", "asset"),
        "x",
        "model_type",
    ),
]

OUT_OF_RANGE = [
    _reject("progress-above-1", RUNNING_TASK, ("status", "progress"), 1.01, "less_than_equal"),
    _reject("progress-below-0", RUNNING_TASK, ("status", "progress"), -0.1, "greater_than_equal"),
    _reject("retries-negative", RUNNING_TASK, ("status", "retries"), -1, "greater_than_equal"),
    _reject("updatedAt-negative", MINIMAL_TASK, ("status", "updatedAt"), -1, "greater_than_equal"),
    _reject("createdAt-negative", UPLOAD_TASK, ("createdAt",), -1, "greater_than_equal"),
    _reject("profile-bitrate-399", UPLOAD_TASK, (*PROFILE0, "bitrate"), 399, "greater_than_equal"),
    _reject("profile-width-127", UPLOAD_TASK, (*PROFILE0, "width"), 127, "greater_than_equal"),
    _reject("profile-height-127", UPLOAD_TASK, (*PROFILE0, "height"), 127, "greater_than_equal"),
    _reject("profile-quality-45", UPLOAD_TASK, (*PROFILE0, "quality"), 45, "less_than_equal"),
    _reject("profile-quality--1", UPLOAD_TASK, (*PROFILE0, "quality"), -1, "greater_than_equal"),
    _reject("profile-fps--1", UPLOAD_TASK, (*PROFILE0, "fps"), -1, "greater_than_equal"),
    _reject("profile-fpsDen-0", UPLOAD_TASK, (*PROFILE0, "fpsDen"), 0, "greater_than_equal"),
    _reject(
        "ffmpeg-bitrate-399", OLD_TRANSCODE_TASK, (*FFMPEG, "bitrate"), 399, "greater_than_equal"
    ),
    _reject("ffmpeg-width-127", OLD_TRANSCODE_TASK, (*FFMPEG, "width"), 127, "greater_than_equal"),
    _reject("ffmpeg-quality-45", OLD_TRANSCODE_TASK, (*FFMPEG, "quality"), 45, "less_than_equal"),
    _reject("ffmpeg-fpsDen-0", OLD_TRANSCODE_TASK, (*FFMPEG, "fpsDen"), 0, "greater_than_equal"),
]

EXPORT_DESTINATIONS = [
    _reject(
        "both-custom-and-ipfs",
        EXPORT_CUSTOM_TASK,
        ("params", "export", "ipfs"),
        IPFS_EXPORT,
        "value_error",
        loc=("params", "export"),
    ),
    _reject(
        "neither-custom-nor-ipfs",
        EXPORT_CUSTOM_TASK,
        ("params", "export", "custom"),
        DELETE,
        "value_error",
        loc=("params", "export"),
    ),
    _reject(
        "custom-null-and-no-ipfs",
        EXPORT_CUSTOM_TASK,
        ("params", "export", "custom"),
        None,
        "value_error",
        loc=("params", "export"),
    ),
]

REJECTION_ARGS = ("base", "path", "value", "loc", "error")


def _assert_rejected_at(doc: Doc, path: Loc, loc: Loc, error: str) -> None:
    """``doc`` (changed at ``path``) fails with ``error`` at ``loc``, and only around ``path``.

    ``loc`` differs from ``path`` for unions (pydantic adds the member tried, e.g. ``CreatorId``)
    and for model-level rules (the error sits on the model, e.g. ``params.export``).
    """
    with pytest.raises(ValidationError) as raised:
        Task.model_validate(doc)
    errors = raised.value.errors()
    common = 0
    while common < min(len(path), len(loc)) and path[common] == loc[common]:
        common += 1
    assert (loc, error) in [(e["loc"], e["type"]) for e in errors], errors
    assert all(e["loc"][:common] == loc[:common] for e in errors), errors


@pytest.mark.parametrize(
    REJECTION_ARGS,
    WRONG_ENUMS + MISSING_REQUIRED + WRONG_TYPES + OUT_OF_RANGE + EXPORT_DESTINATIONS,
)
def test_a_broken_field_is_rejected_at_that_field_not_coerced(
    base: Doc, path: Loc, value: object, loc: Loc, error: str
) -> None:
    """Wrong enum values, missing required fields, wrong types, numbers out of range, and
    export params with both or neither of custom and ipfs (each case's id says which)."""
    _assert_rejected_at(_changed(base, path, value), path, loc, error)


# --- Unknown keys are kept --------------------------------------------------------------------

UNKNOWN_VALUE = {"deep": [1, 2.5, None, "x", {"k": True}]}

UNKNOWN_KEY_PLACES = [
    pytest.param(MINIMAL_TASK, (), lambda t: t, id="task"),
    pytest.param(MINIMAL_TASK, ("status",), lambda t: t.status, id="status"),
    pytest.param(UPLOAD_TASK, ("params",), lambda t: t.params, id="params"),
    pytest.param(UPLOAD_TASK, UP, lambda t: t.params.upload, id="params.upload"),
    pytest.param(UPLOAD_TASK, PROFILE0, lambda t: t.params.upload.profiles[0], id="profile"),
    pytest.param(
        EXPORT_CUSTOM_TASK,
        ("params", "export", "custom"),
        lambda t: t.params.export.custom,
        id="params.export.custom",
    ),
    pytest.param(
        EXPORT_IPFS_TASK,
        ("params", "export", "ipfs", "pinata"),
        lambda t: t.params.export.ipfs.pinata,
        id="params.export.ipfs.pinata",
    ),
    pytest.param(
        EXPORT_DATA_TASK,
        ("params", "exportData"),
        lambda t: t.params.export_data,
        id="params.exportData",
    ),
    pytest.param(
        TRANSCODE_FILE_TASK,
        (*TF, "outputs", "hls"),
        lambda t: t.params.transcode_file.outputs.hls,
        id="params.transcode-file.outputs.hls",
    ),
    pytest.param(
        TRANSCODE_FILE_TASK,
        (*TF, "creatorId"),
        lambda t: t.params.transcode_file.creator_id,
        id="params.transcode-file.creatorId",
    ),
    pytest.param(
        CLIP_TASK,
        ("params", "clip", "clipStrategy"),
        lambda t: t.params.clip.clip_strategy,
        id="params.clip.clipStrategy",
    ),
    pytest.param(OLD_CLIP_TASK, ("clip",), lambda t: t.clip, id="older-top-level-clip"),
    pytest.param(
        OLD_TRANSCODE_TASK, FFMPEG, lambda t: t.params.transcode.profile, id="ffmpeg-profile"
    ),
    pytest.param(
        OLD_IMPORT_TASK, ("params", "import"), lambda t: t.params.import_, id="params.import"
    ),
    pytest.param(UPLOAD_TASK, ("output",), lambda t: t.output, id="output"),
    pytest.param(UPLOAD_TASK, ASSET, lambda t: t.output.upload.asset_spec, id="assetSpec"),
    pytest.param(
        UPLOAD_TASK,
        (*ASSET, "hash", 0),
        lambda t: t.output.upload.asset_spec.hash[0],
        id="assetSpec.hash",
    ),
    pytest.param(
        UPLOAD_TASK,
        (*ASSET, "videoSpec", "tracks", 1),
        lambda t: t.output.upload.asset_spec.video_spec.tracks[1],
        id="assetSpec.videoSpec.tracks",
    ),
    pytest.param(
        EXPORT_IPFS_TASK,
        ("output", "export", "ipfs"),
        lambda t: t.output.export.ipfs,
        id="output.export.ipfs",
    ),
    pytest.param(
        EXPORT_DATA_TASK,
        ("output", "exportData", "ipfs"),
        lambda t: t.output.export_data.ipfs,
        id="output.exportData.ipfs",
    ),
    pytest.param(
        TRANSCODE_FILE_TASK,
        (*TF_OUT, "input_video"),
        lambda t: t.output.transcode_file.input_video,
        id="output.transcodeFile.input_video",
    ),
    pytest.param(CLIP_TASK, ("output", "clip"), lambda t: t.output.clip, id="output.clip"),
    pytest.param(
        OLD_TRANSCODE_TASK,
        ("output", "transcode", "asset"),
        lambda t: t.output.transcode.asset,
        id="older-output.transcode.asset",
    ),
]


@pytest.mark.parametrize(("base", "path", "model_at"), UNKNOWN_KEY_PLACES)
def test_an_unknown_key_is_kept_untouched_at_every_level(
    base: Doc, path: Loc, model_at: Callable[[Any], WireModel]
) -> None:
    doc = _changed(base, (*path, "futureField"), UNKNOWN_VALUE)

    task = Task.model_validate(doc)

    assert model_at(task).model_extra == {"futureField": UNKNOWN_VALUE}
    assert task.model_dump(by_alias=True, exclude_unset=True) == doc


def _with_unknown_key_in_every_object(value: Any) -> Any:
    if isinstance(value, dict):
        tagged = {k: _with_unknown_key_in_every_object(v) for k, v in value.items()}
        tagged["zzUnknown"] = "kept"  # a string, so free-form str->str maps accept it too
        return tagged
    if isinstance(value, list):
        return [_with_unknown_key_in_every_object(v) for v in value]
    return value


@pytest.mark.parametrize("doc", ALL_TASKS)
def test_unknown_keys_in_every_object_at_once_are_all_kept(doc: Doc) -> None:
    tagged = _with_unknown_key_in_every_object(doc)

    dumped = Task.model_validate(tagged).model_dump(by_alias=True, exclude_unset=True)

    assert dumped == tagged


def test_the_real_extra_keys_userid_and_deleted_are_kept() -> None:
    task = Task.model_validate({**MINIMAL_TASK, "userId": "u1", "deleted": True})

    assert task.model_extra == {"userId": "u1", "deleted": True}
