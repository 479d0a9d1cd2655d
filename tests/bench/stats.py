"""Figures every measurement reports the same way."""

import resource
import statistics


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
