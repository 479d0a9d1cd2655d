"""How stored tasks are asked for and shown."""

from typing import Any

import pytest
from pydantic import ValidationError

from taskhook.tasks.views import MAX_LIMIT, TaskQuery, table, task_view

ROW: dict[str, Any] = {
    "id": "09f8b46c-61a0-4254-9875-f71f4c605bc7",
    "type": "upload",
    "phase": "running",
    "phase_rank": 2,
    "progress": 0.5,
    "error_message": None,
    "updated_at": 1_726_570_020_000,
    "output": None,
}


@pytest.mark.parametrize(
    ("given", "valid"),
    [
        ({}, True),
        ({"phase": ["completed", "failed"], "type": ["upload"], "limit": "10"}, True),
        ({"phase": ["finished"]}, False),
        ({"type": ["livestream"]}, False),
        ({"limit": "0"}, False),
        ({"limit": str(MAX_LIMIT + 1)}, False),
        ({"limit": "ten"}, False),
        ({"offset": "-1"}, False),
        ({"sort": "id"}, False),
    ],
)
def test_a_query_allows_known_phases_and_types_and_a_bounded_page(
    given: dict[str, Any], valid: bool
) -> None:
    if valid:
        TaskQuery.model_validate(given)
    else:
        with pytest.raises(ValidationError):
            TaskQuery.model_validate(given)


def test_a_view_is_camel_case_with_iso_times_and_no_internal_columns() -> None:
    assert task_view(ROW) == {
        "id": ROW["id"],
        "type": "upload",
        "phase": "running",
        "progress": 0.5,
        "errorMessage": None,
        "updatedAt": 1_726_570_020_000,
        "updatedAtIso": "2024-09-17T10:47:00.000Z",
        "output": None,
    }


def test_the_table_has_a_heading_and_one_aligned_line_per_task() -> None:
    lines = table([task_view(ROW), task_view(ROW | {"progress": None})]).splitlines()
    assert lines[0].split() == ["ID", "TYPE", "PHASE", "PROGRESS", "UPDATED"]
    assert lines[1].split() == [ROW["id"], "upload", "running", "50%", "2024-09-17T10:47:00.000Z"]
    assert lines[2].split() == [ROW["id"], "upload", "running", "2024-09-17T10:47:00.000Z"]
    assert lines[1].index("2024") == lines[2].index("2024")
