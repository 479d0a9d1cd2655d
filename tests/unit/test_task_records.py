"""What the tasks consumer records of a snapshot: normalized outputs and snapshot order."""

import re
from typing import Any

import orjson
import pytest

from taskhook.tasks.records import normalized_output, record_of
from tests.support.lifecycle import (
    ASSET_SPEC,
    EXPECTED_OUTPUTS,
    as_event,
    failed_life,
    published,
    snapshot,
    task_life,
)


@pytest.mark.parametrize("task_type", sorted(EXPECTED_OUTPUTS))
def test_each_type_s_output_is_normalized_to_its_summary(task_type: str) -> None:
    completed = task_life(task_type)[-1]
    assert record_of(as_event(completed)).output == EXPECTED_OUTPUTS[task_type]


@pytest.mark.parametrize("task_type", ["upload", "clip", "transcode-file"])
def test_sizes_are_whole_bytes_as_json_shows_them(task_type: str) -> None:
    output = record_of(as_event(task_life(task_type)[-1])).output
    assert output is not None
    shown = orjson.dumps(output).decode()
    sizes = re.findall(r'"(?:size|inputSize)":([0-9.e+]+)', shown)
    assert sizes
    assert all(size.isdigit() for size in sizes), shown


@pytest.mark.parametrize(
    ("task_type", "output", "expected"),
    [
        # The older shape: {"asset": {...}} under the type's key.
        (
            "import",
            {"import": {"asset": {"assetSpec": ASSET_SPEC}}},
            EXPECTED_OUTPUTS["upload"] | {"videoFilePath": None},
        ),
        ("transcode", {"transcode": {"asset": None}}, None),
        ("export", {"export": {"custom": {}}}, {}),  # exported to a custom URL
        ("upload", {"somethingNew": {}}, None),
    ],
)
def test_older_and_sparse_outputs_normalize_without_failing(
    task_type: str, output: dict[str, Any], expected: dict[str, Any] | None
) -> None:
    task = snapshot("t", task_type, "running", 1) | {"output": output}
    assert normalized_output(as_event(published("task.updated", task)).task) == expected


def test_a_task_without_output_records_none() -> None:
    assert record_of(as_event(task_life()[2])).output is None


def test_the_record_carries_status_fields_and_the_event_id() -> None:
    body = failed_life()[-1]
    record = record_of(as_event(body))
    assert (record.phase, record.error_message, record.retries) == ("failed", "input unreadable", 2)
    assert record.event_id == body["id"]


def test_versions_order_a_life_whatever_the_arrival_order() -> None:
    life = [record_of(as_event(body)) for body in task_life()]
    versions = [record.version for record in life]
    assert versions == sorted(versions)
    # task.updated(completed) and task.completed carry the same snapshot: the same version.
    assert versions[-1] == versions[-2]
    assert max(life, key=lambda record: record.version).phase == "completed"


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        (("running", 10), ("running", 11)),
        (("running", 10), ("completed", 10)),  # same instant: the further phase wins
        (("pending", 10), ("waiting", 10)),
        (("completed", 10), ("waiting", 11)),  # a later retry is newer, whatever its phase
    ],
)
def test_version_orders_by_update_time_then_phase(
    older: tuple[str, int], newer: tuple[str, int]
) -> None:
    def version(phase: str, at: int) -> tuple[int, int]:
        body = published("task.updated", snapshot("t", "upload", phase, at))
        return record_of(as_event(body)).version

    assert version(*older) < version(*newer)
