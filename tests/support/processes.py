"""Running taskhook as a real process from a test: ports, environment, readiness, output, and
nothing left running after the test."""

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.support import owned
from tests.support.broker import AMQP_URL
from tests.support.deliveries import SECRET

START_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def environment(exchange: str, port: int, **extra: str) -> dict[str, str]:
    """What ``taskhook serve`` needs, on the test's exchange and a port of its own."""
    ingest = {
        "TASKHOOK_EXCHANGE": exchange,
        "TASKHOOK_HOST": "127.0.0.1",
        "TASKHOOK_PORT": str(port),
        "TASKHOOK_WEBHOOK_SECRETS": SECRET,
    }
    return clean_environment(**(ingest | extra))


def clean_environment(**extra: str) -> dict[str, str]:
    """This environment without TASKHOOK_ settings, plus the test broker and ``extra``; on a
    test's own exchange, the archive as that test runs it (``owned.archive_environment``)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("TASKHOOK_")}
    exchange = extra.get("TASKHOOK_EXCHANGE")
    return {
        **inherited,
        "TASKHOOK_AMQP_URL": AMQP_URL,
        **(owned.archive_environment(exchange) if exchange else {}),
        **extra,
    }


@dataclass
class Running:
    process: asyncio.subprocess.Process
    base_url: str
    http: aiohttp.ClientSession

    async def ready_status(self) -> int:
        async with self.http.get(f"{self.base_url}/readyz") as response:
            return response.status

    async def metrics(self) -> str:
        async with self.http.get(f"{self.base_url}/metrics") as response:
            return await response.text()

    async def wait_ready(self) -> None:
        async with asyncio.timeout(START_TIMEOUT_S):
            while True:
                try:
                    if await self.ready_status() == 200:
                        return
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)

    async def output(self) -> list[dict[str, object]]:
        stdout, _ = await self.process.communicate()
        return [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]


async def run(
    *args: str, env: dict[str, str], cwd: str | None = None
) -> asyncio.subprocess.Process:
    """``taskhook <args>`` in a session of its own, so that `kill_all` reaches its children, and
    killed after the test whatever the test did (``kill_started``)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "taskhook",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    track(process.pid)
    return process


async def kill_all(process: asyncio.subprocess.Process, timeout_s: float = 10.0) -> None:
    """SIGKILL ``process`` and everything it started, then reap it.

    Killing only the process would leave its children holding its pipes, and asyncio waits for
    those pipes to close before ``wait()`` returns: a test's clean-up would hang for good.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await asyncio.wait_for(process.wait(), timeout_s)


async def logged(
    process: asyncio.subprocess.Process, wanted: dict[str, int]
) -> list[dict[str, object]]:
    """Read the process's JSON log lines until each message in ``wanted`` came that often."""
    lines: list[dict[str, object]] = []
    async with asyncio.timeout(START_TIMEOUT_S):
        while any(
            sum(line["message"] == message for line in lines) < count
            for message, count in wanted.items()
        ):
            assert process.stdout is not None
            raw = await process.stdout.readline()
            assert raw, "the process closed its output"
            lines.append(json.loads(raw))
    return lines


@dataclass(frozen=True)
class Session:
    """A process a test started in a session of its own (``start_new_session=True``), and when
    it started: a pid the kernel has since given to another process is told apart by that."""

    leader: int
    started_at: str


_STARTED: list[Session] = []


def track(pid: int) -> Session | None:
    """Kill the session ``pid`` leads after the current test (``kill_started``); the session,
    or None if ``pid`` is gone already."""
    stat = _stat(pid)
    if stat is None:
        return None
    session = Session(pid, stat.started_at)
    _STARTED.append(session)
    return session


def kill_started() -> None:
    """SIGKILL every process still in a session a test started, its leader's descendants
    included even where they made process groups of their own (``make run`` at a terminal
    does): a child left running keeps every file descriptor it inherited, a lock's among them."""
    for session in _STARTED:
        for pid in members(session):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    _STARTED.clear()


def members(session: Session) -> list[int]:
    """The processes in ``session`` now; none if its leader's pid is another process's now."""
    leader = _stat(session.leader)
    if leader is not None and leader.started_at != session.started_at:
        return []
    pids = [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    return [pid for pid in pids if (stat := _stat(pid)) and stat.session == session.leader]


@dataclass(frozen=True)
class _Stat:
    session: int
    started_at: str


def _stat(pid: int) -> _Stat | None:
    """Fields of ``/proc/<pid>/stat``; None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name, in parentheses, may hold spaces: the fields after it are counted from
    # the last parenthesis (field 3, the state, comes first; 6 is the session, 22 the start).
    fields = text[text.rindex(")") + 2 :].split()
    return _Stat(session=int(fields[3]), started_at=fields[19])
