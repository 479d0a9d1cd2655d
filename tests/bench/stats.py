"""Figures every measurement reports the same way, and the processes they are read from."""

import os
import resource
import statistics
import time
import urllib.request
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
