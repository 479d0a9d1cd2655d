"""The pieces of a fault scenario: the real service, the stream that feeds it, the probe watcher.

The service is a real ``taskhook serve`` process and the stream a process of its own
(``tests.support.loadgen``), so a fault that freezes or kills one cannot hide in the other.
The service's output goes to a file: a pipe nobody reads would fill up under load and stall it.
"""

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.support.loadgen import Answer, read_answers
from tests.support.processes import START_TIMEOUT_S, environment, free_port, kill_all, track

# Short, so a broker that blocks shows up as 503s within the scenario.
PUBLISH_TIMEOUT_S = 2.0
# What an answer may take beyond the publish timeout on a busy 2-core machine.
LATENCY_MARGIN_S = 1.5


@dataclass
class ServiceProcess:
    process: asyncio.subprocess.Process
    base_url: str
    log_path: Path

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/webhooks/livepeer"

    async def ready_status(self) -> int | None:
        """``/readyz``'s status, or None when nothing answers."""
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{self.base_url}/readyz", timeout=aiohttp.ClientTimeout(total=2)) as r,
            ):
                return r.status
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def metrics(self) -> str:
        async with aiohttp.ClientSession() as http, http.get(f"{self.base_url}/metrics") as r:
            return await r.text()

    async def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        async with asyncio.timeout(timeout_s):
            while await self.ready_status() != 200:
                await asyncio.sleep(0.1)

    def rss_bytes(self) -> int:
        """Resident memory of the service process now."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def log_lines(self) -> list[dict[str, object]]:
        lines = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def assert_logs_clean(self) -> None:
        """No traceback and no unhandled error: every fault is an expected condition."""
        text = self.log_path.read_text()
        assert "Traceback" not in text
        errors = [line for line in self.log_lines() if line.get("level") in ("ERROR", "CRITICAL")]
        assert errors == []


async def start_service(exchange: str, tmp_path: Path, **extra: str) -> ServiceProcess:
    """``taskhook serve`` on a free port, ready."""
    return await start_service_on(free_port(), exchange, tmp_path, **extra)


async def start_service_on(
    port: int, exchange: str, tmp_path: Path, **extra: str
) -> ServiceProcess:
    """``taskhook serve`` on ``port``, ready: a replica restarted where the balancer expects it."""
    env = environment(exchange, port, TASKHOOK_PUBLISH_TIMEOUT_S=str(PUBLISH_TIMEOUT_S), **extra)
    log_path = tmp_path / f"serve-{port}.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "taskhook",
            "serve",
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,  # so that kill_all reaches whatever it started
        )
    track(process.pid)
    service = ServiceProcess(process, f"http://127.0.0.1:{port}", log_path)
    await service.wait_ready()
    return service


async def stop_service(service: ServiceProcess) -> None:
    await kill_all(service.process)


@dataclass
class Stream:
    """A load generator process sending signed deliveries to the service."""

    process: asyncio.subprocess.Process
    out: Path

    @classmethod
    async def start(
        cls, url: str, out: Path, *, rate: float, duration_s: float, timeout_s: float = 30.0
    ) -> "Stream":
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.loadgen",
            "--url",
            url,
            "--rate",
            str(rate),
            "--duration",
            str(duration_s),
            "--timeout",
            str(timeout_s),
            "--out",
            str(out),
            start_new_session=True,  # killed whole after the test, whatever the test did
        )
        track(process.pid)
        return cls(process, out)

    async def finish(self, timeout_s: float = 60.0) -> list[Answer]:
        try:
            assert await asyncio.wait_for(self.process.wait(), timeout_s) == 0
        finally:
            if self.process.returncode is None:
                self.process.kill()
                await self.process.wait()
        return read_answers(self.out)


@dataclass
class ReadinessWatch:
    """``/readyz`` polled every 100 ms in the background: (``time.monotonic()``, status)."""

    service: ServiceProcess
    seen: list[tuple[float, int | None]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def statuses_between(self, start: float, end: float) -> list[int | None]:
        return [status for at, status in self.seen if start <= at <= end]

    async def _poll(self) -> None:
        while True:
            status = await self.service.ready_status()
            self.seen.append((time.monotonic(), status))
            await asyncio.sleep(0.1)
