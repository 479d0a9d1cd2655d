"""The Livepeer ``Task`` snapshot carried by every ``task.*`` webhook.

docs/livepeer-webhooks.md sections 4 to 6. Both shapes are accepted: today's (types upload,
export, export-data, transcode-file, clip) and the older one from before Sept 2023 (types import
and transcode, a top-level ``clip``). Strict on what consumers rely on (type, status, the shape
of params and output, number ranges), lenient on the rest: unknown keys are kept untouched at
every level. The per-type params and outputs are in ``taskhook.core.task_params`` and
``taskhook.core.task_outputs``.
"""

from typing import Literal

from pydantic import Field

from taskhook.core.task_outputs import (
    ClipOutput,
    ExportDataOutput,
    ExportOutput,
    LegacyAssetOutput,
    TranscodeFileOutput,
    UploadOutput,
)
from taskhook.core.task_params import (
    ClipParams,
    ExportDataParams,
    ExportParams,
    ImportParams,
    TranscodeFileParams,
    TranscodeParams,
    UploadParams,
)
from taskhook.core.wire import Millis, WireModel

TaskType = Literal[
    "upload",
    "export",
    "export-data",
    "transcode-file",
    "clip",
    "import",  # older shape only
    "transcode",  # older shape only
]
"""What a task does; downstream routes on it."""

TaskPhase = Literal["pending", "waiting", "running", "failed", "completed", "cancelled"]
"""Where a task is in its life."""


class TaskStatus(WireModel):
    """``status``: the phase and when it was written. Order snapshots by ``updated_at``."""

    phase: TaskPhase
    updated_at: Millis
    progress: float | None = Field(default=None, ge=0, le=1)
    error_message: str | None = None
    retries: int | None = Field(default=None, ge=0)


class TaskParams(WireModel):
    """``params``: the inputs of the task, under the key of its type.

    Note the wire keys: ``transcode-file`` with a hyphen, ``exportData`` in camelCase.
    """

    upload: UploadParams | None = None
    export: ExportParams | None = None
    export_data: ExportDataParams | None = None
    transcode_file: TranscodeFileParams | None = Field(default=None, alias="transcode-file")
    clip: ClipParams | None = None
    # `import` is a Python keyword, hence the trailing underscore.
    import_: ImportParams | None = Field(default=None, alias="import")
    transcode: TranscodeParams | None = None


class TaskOutput(WireModel):
    """``output``: what the task produced, under the key of its type (``transcodeFile`` here)."""

    upload: UploadOutput | None = None
    export: ExportOutput | None = None
    export_data: ExportDataOutput | None = None
    transcode_file: TranscodeFileOutput | None = None
    clip: ClipOutput | None = None
    import_: LegacyAssetOutput | None = Field(default=None, alias="import")
    transcode: LegacyAssetOutput | None = None


class Task(WireModel):
    """A Livepeer task snapshot (``payload.task.snapshot``).

    The schema makes every field optional; ``id``, ``type`` and ``status`` are required here
    because downstream routes on the type and orders snapshots by ``status.updatedAt``.
    Real snapshots also carry ``userId`` and sometimes ``deleted``: kept as extra keys.
    """

    id: str = Field(min_length=1)
    type: TaskType
    status: TaskStatus
    created_at: Millis | None = None
    scheduled_at: Millis | None = None
    input_asset_id: str | None = None
    output_asset_id: str | None = None
    project_id: str | None = None
    requester_id: str | None = None
    params: TaskParams | None = None
    output: TaskOutput | None = None
    clip: ClipParams | None = None  # older shape: clip parameters at the top level
