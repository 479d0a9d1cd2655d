"""A clone of this repository alone builds, runs and passes its tests: nothing reaches outside it.

The reference material the project was written from sits beside the repository on the machines
it was written on; it must never be needed. These tests copy the repository somewhere with
nothing beside it and run the tests that need no broker there.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.dockerfile import ROOT

# Spelled in pieces, so that a search of the repository for them finds only real references.
SHARED = "shared"
REFERENCE_PAGES = ("WEBHOOKS", "STUDIO_API")
OUTSIDE = (f"../{SHARED}", f"{SHARED}/livepeer", *(f"{page}.md" for page in REFERENCE_PAGES))
THIS_FILE = Path(__file__).relative_to(ROOT).as_posix()


def repository_files() -> list[str]:
    """Every file a clone would have, and those this checkout adds but git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def test_no_file_names_anything_outside_the_repository() -> None:
    """Code, tests and docs alike (this file too): the wire format is described in
    docs/livepeer-webhooks.md."""
    for name in repository_files():
        try:
            text = (ROOT / name).read_text()
        except UnicodeDecodeError:
            continue
        for outside in OUTSIDE:
            assert outside not in text, f"{name} names {outside}"


@pytest.mark.timeout(300)
def test_the_tests_that_need_no_broker_pass_in_a_copy_with_nothing_beside_it(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "alone" / "taskhook"
    for name in repository_files():
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    # The copy's own package, not the checkout's editable install.
    env = {**os.environ, "PYTHONPATH": f"{copy / 'service'}{os.pathsep}{copy}"}
    result = subprocess.run(  # noqa: S603  # this interpreter, our own arguments
        [
            sys.executable,
            *("-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"),
            *("-m", "not broker and not image", "tests/unit", "tests/deploy"),
            f"--ignore={THIS_FILE}",  # it needs git, which a copy has not
        ],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
