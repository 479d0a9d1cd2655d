"""The Makefile's test tiers select what their names say.

A ``-m`` on pytest's command line replaces the one in pyproject's ``addopts`` (the last wins), so
a tier that narrows the selection must repeat the long runs' exclusion itself: once it did not,
and ``make unit``, a contributor's quick loop, started the three-node cluster and its load.
"""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from tests.deploy.dockerfile import ROOT

# What needs something this tier promises not to touch: a broker, the image build, long runs.
NOT_IN_UNIT = frozenset({"broker", "image", "chaos", "soak", "cluster", "fault"})
BROKER_FOLDERS = frozenset({"integration", "faults", "cluster"})


def tier_command(target: str) -> list[str]:
    """The pytest arguments ``make <target>`` runs, as make would run them (``make -n``)."""
    printed = subprocess.run(  # noqa: S603  # a fixed command
        ["make", "--no-print-directory", "-n", target],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [line for line in printed.splitlines() if "/pytest" in line.split(" ", 1)[0]]
    assert len(lines) == 1, f"make {target} runs pytest once: {printed}"
    return shlex.split(lines[0])[1:]


def collected(arguments: list[str], tmp_path: Path) -> list[tuple[str, set[str]]]:
    """Every test ``pytest arguments`` would run: its node id and its markers."""
    listing = tmp_path / "selected.jsonl"
    plugins = ["-p", "tests.support.selection", "-p", "no:cacheprovider"]
    subprocess.run(  # noqa: S603  # the tier's own arguments
        [sys.executable, "-m", "pytest", *arguments, "--collect-only", "-q", *plugins],
        cwd=ROOT,
        env={**os.environ, "TASKHOOK_SELECTION_FILE": str(listing)},
        capture_output=True,
        check=True,
    )
    lines = listing.read_text().splitlines()
    return [(row["node"], set(row["marks"])) for row in map(json.loads, lines)]


def test_make_unit_runs_no_test_that_needs_a_broker_or_a_long_run(tmp_path: Path) -> None:
    items = collected(tier_command("unit"), tmp_path)

    assert items, "make unit selects no test at all"
    assert not [(node, marks & NOT_IN_UNIT) for node, marks in items if marks & NOT_IN_UNIT]
    folders = {node.split("/")[1] for node, _ in items}
    assert not folders & BROKER_FOLDERS
    assert "unit" in folders
