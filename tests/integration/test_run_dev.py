"""``scripts/run-dev`` (what ``make run`` runs): the ingest, the consumer and the console stop
together, and Ctrl-C is a stop as asked, not a failure. Run with stand-ins for ``taskhook``
that behave like it on signals."""

import asyncio
import os
import pty
import signal
import time
from pathlib import Path

import pytest

from tests.deploy.dockerfile import ROOT
from tests.support.processes import track

RUN_DEV = ROOT / "scripts" / "run-dev"
# Drains on SIGINT or SIGTERM and exits with $STOP_STATUS (0: stopped cleanly), or on its own
# with $EXIT_AT_ONCE when that names a status.
STAND_IN = """#!/usr/bin/env bash
[ -n "${EXIT_AT_ONCE:-}" ] && [ "$1" = serve ] && exit "$EXIT_AT_ONCE"
trap 'echo "$1 stopped" >&2; exit "${STOP_STATUS:-0}"' INT TERM
while true; do sleep 0.05; done
"""


@pytest.fixture
def stand_in(tmp_path: Path) -> Path:
    taskhook = tmp_path / "taskhook"
    taskhook.write_text(STAND_IN)
    taskhook.chmod(0o755)
    return tmp_path


async def run_dev(bin_dir: Path, **env: str) -> asyncio.subprocess.Process:
    """``scripts/run-dev``, killed whole after the test (stand-ins too), whatever the test did."""
    process = await asyncio.create_subprocess_exec(
        str(RUN_DEV),
        str(bin_dir),
        env={**os.environ, **env},
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # a process group of its own, as a terminal's job is
    )
    track(process.pid)
    return process


async def ctrl_c(process: asyncio.subprocess.Process) -> tuple[int, str]:
    await asyncio.sleep(1.0)  # both started and waiting
    os.killpg(process.pid, signal.SIGINT)  # what the terminal does on Ctrl-C: the whole group
    _, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode is not None
    return process.returncode, stderr.decode()


async def test_ctrl_c_stops_all_three_and_exits_0(stand_in: Path) -> None:
    status, said = await ctrl_c(await run_dev(stand_in))
    assert status == 0
    assert sorted(said.split("\n")[:3]) == ["console stopped", "consume stopped", "serve stopped"]


async def test_ctrl_c_reports_a_half_that_did_not_stop_cleanly(stand_in: Path) -> None:
    status, _ = await ctrl_c(await run_dev(stand_in, STOP_STATUS="3"))
    assert status == 3


async def test_a_part_that_exits_stops_the_others_and_its_status_is_returned(
    stand_in: Path,
) -> None:
    process = await run_dev(stand_in, EXIT_AT_ONCE="2")
    # The consumer's stand-in holds stderr open: the pipe closes only once it is gone too.
    await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 2


def test_make_run_stopped_with_ctrl_c_at_a_terminal_exits_0(stand_in: Path, tmp_path: Path) -> None:
    """The whole of `make run`, at a terminal (a pty): the Ctrl-C that the terminal sends to its
    foreground group must reach run-dev's job only, or make dies of it whatever run-dev says."""
    makefile = tmp_path / "Makefile"
    makefile.write_text(f"run:\n\t{RUN_DEV} {stand_in}\n")
    pid, terminal = pty.fork()
    if pid == 0:  # the child: make, with the pty as its controlling terminal, in a new session
        # Nothing inherited beyond the terminal: a stand-in left running would otherwise hold
        # whatever this process holds open (the machine lock's descriptor, under flock).
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        os.execvp("make", ["make", "--no-print-directory", "-f", str(makefile), "run"])  # noqa: S606, S607
    track(pid)  # its session: make, run-dev's own job (a group of its own) and the stand-ins
    time.sleep(1.5)  # both halves started and waiting
    os.write(terminal, b"\x03")  # Ctrl-C, typed
    said = b""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # the pty closes once make is gone
            break
        if not chunk:
            break
        said += chunk
    _, wait_status = os.waitpid(pid, 0)
    text = said.decode(errors="replace")
    assert os.waitstatus_to_exitcode(wait_status) == 0, text
    assert "Error" not in text
    assert "Interrupt" not in text
    assert "serve stopped" in text
    assert "consume stopped" in text
    assert "console stopped" in text
