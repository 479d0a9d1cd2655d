"""Hypothesis strategies for Livepeer deliveries: valid ones, and ones a field away from valid.

Valid deliveries are built from the samples (every task type, every event) with the values a
sender chooses drawn at random; near-valid ones change exactly one field of a valid one to a
value of the wrong type or out of range, or remove it, so the refusal can be checked to name it.
"""

import copy
import uuid
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

from tests.support.deliveries import load_sample, sample_names

# Values of every JSON type, for a field that should hold another one.
WRONG_VALUES: tuple[Any, ...] = (None, True, -1, 2**53, 1.5, "", "x" * 300, [], {}, [1], {"a": 1})
TASK_TYPES = ("upload", "export", "export-data", "transcode-file", "clip")
PHASES = ("pending", "waiting", "running", "failed", "completed", "cancelled")


def leaf_paths(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every path to a value inside ``value`` (objects and arrays included)."""
    if path:
        yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaf_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaf_paths(item, (*path, index))


def pointer(path: tuple[str | int, ...]) -> str:
    return "".join(f"/{part}" for part in path)


def replaced(document: Any, path: tuple[str | int, ...], value: Any) -> Any:
    changed = copy.deepcopy(document)
    parent = changed
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return changed


def removed(document: Any, path: tuple[str | int, ...]) -> Any:
    changed = copy.deepcopy(document)
    parent = changed
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    return changed


@st.composite
def valid_deliveries(draw: st.DrawFn) -> dict[str, Any]:
    """A sample with fresh ids, times and progress: what Livepeer could send next."""
    document: dict[str, Any] = load_sample(draw(st.sampled_from(sample_names())))
    document["id"] = str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1))))
    document["webhookId"] = draw(st.text(min_size=1, max_size=40))
    created = draw(st.integers(0, 4_102_444_800_000))  # up to 2100
    document["createdAt"] = created
    task = (document.get("payload") or {}).get("task")
    if isinstance(task, dict) and isinstance(task.get("snapshot"), dict):
        snapshot = task["snapshot"]
        task["id"] = snapshot["id"] = draw(st.text(min_size=1, max_size=64))
        status = snapshot.get("status")
        if isinstance(status, dict):
            status["updatedAt"] = created
            if "progress" in status:
                status["progress"] = draw(st.floats(0, 1))
        snapshot[draw(st.sampled_from(["userId", "zUnknownKey"]))] = draw(st.text(max_size=20))
    return document


@st.composite
def near_valid_deliveries(draw: st.DrawFn) -> tuple[dict[str, Any], str, str]:
    """A valid delivery with one field made wrong: (document, its JSON pointer, what was done)."""
    document = draw(valid_deliveries())
    paths = [p for p in leaf_paths(document) if p != ("timestamp",)]
    path = draw(st.sampled_from(paths))
    if draw(st.booleans()) and isinstance(path[-1], str):
        return removed(document, path), pointer(path), "removed"
    wrong = draw(st.sampled_from(WRONG_VALUES))
    return replaced(document, path, wrong), pointer(path), f"set to {wrong!r:.20}"
