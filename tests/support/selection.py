"""A pytest plugin that writes what a run would select, with markers, to the file named by
``TASKHOOK_SELECTION_FILE`` (one JSON object per test): how tests/deploy/test_tiers.py sees a
tier's selection as ``make`` makes it, without running a test of it."""

import json
import os

import pytest


def pytest_collection_finish(session: pytest.Session) -> None:
    target = os.environ.get("TASKHOOK_SELECTION_FILE")
    if not target:
        return
    with open(target, "w", encoding="utf-8") as out:
        for item in session.items:
            marks = sorted({mark.name for mark in item.iter_markers()})
            out.write(json.dumps({"node": item.nodeid, "marks": marks}) + "\n")
