"""Figures every measurement reports the same way, and the processes they are read from."""

import os
import re
import resource
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path


def summary(
    count: int, elapsed_s: float, latencies_s: list[float], errors: int
) -> dict[str, object]:
    """Rate, latency percentiles (ms) and errors of one measurement."""
    quantiles = statistics.quantiles(latencies_s, n=100) if len(latencies_s) > 1 else [0.0] * 99
    return {
        "count": count,
        "per_s": round(count / elapsed_s, 1),
        "p50_ms": round(quantiles[49] * 1000, 2),
        "p95_ms": round(quantiles[94] * 1000, 2),
        "p99_ms": round(quantiles[98] * 1000, 2),
        "errors": errors,
    }


def median(values: Iterable[float]) -> float:
    return float(statistics.median(values))


def percentiles_ms(latencies_ms: list[float]) -> dict[str, float]:
    """p50, p99 and max of latencies already in milliseconds, rounded for a report (inclusive
    quantiles: from few samples, the default method puts p99 above the largest of them)."""
    quantiles = statistics.quantiles(latencies_ms, n=100, method="inclusive")
    return {
        "p50_ms": round(statistics.median(latencies_ms), 2),
        "p99_ms": round(quantiles[98], 2),
        "max_ms": round(max(latencies_ms), 2),
    }


def peak_rss_kib() -> int:
    """This process's peak resident memory."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def process_rss_kib(pid: int, field: str = "VmHWM") -> int:
    """Another process's resident memory: ``VmRSS`` now, or ``VmHWM`` at its peak."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def wait_for(port: int, path: str, timeout_s: float = 20) -> None:
    """Return once ``path`` on ``port`` answers 200 (or 404: up, with no such path)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError as error:
            if getattr(error, "code", None) == 404:  # the bare server: up, and no such path
                return
        time.sleep(0.02)
    raise TimeoutError(f"nothing ready on port {port}")


def cpu_seconds(pid: int) -> float:
    """The user and system CPU that process ``pid`` has spent so far, all threads."""
    return sum(cpu_split(pid))


def cpu_split(pid: int) -> tuple[float, float]:
    """The user CPU and the system CPU that process ``pid`` has spent so far, all threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def listening_pid(port: int) -> int | None:
    """The process listening on TCP ``port`` on this machine (the broker, when it runs here),
    or None where it is elsewhere or ``ss`` may not name it."""
    try:
        listing = subprocess.run(
            ["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        return None
    found = re.search(r"pid=(\d+)", listing)
    return int(found.group(1)) if found else None


def settle(
    *, quiet_below: float = 0.1, window_s: float = 0.25, windows: int = 2, longest_s: float = 10.0
) -> float:
    """Wait until the machine is quiet: its CPUs less than ``quiet_below`` busy (or waiting on
    the disk) over ``windows`` windows in a row. A run leaves the broker writing out, purging and
    compacting what it was sent, and that work would fall on the next run. Gives up after
    ``longest_s``; returns the seconds waited."""
    started = time.monotonic()
    quiet = 0
    while quiet < windows and time.monotonic() - started < longest_s:
        busy_before, total_before = _cpu_ticks()
        time.sleep(window_s)
        busy, total = _cpu_ticks()
        calm = (busy - busy_before) < quiet_below * max(total - total_before, 1)
        quiet = quiet + 1 if calm else 0
    return round(time.monotonic() - started, 2)


def _cpu_ticks() -> tuple[int, int]:
    """The machine's busy and total CPU ticks so far, all cores; time waiting on the disk counts
    as busy (the broker flushing to disk is what a run must not start on)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3]
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total
