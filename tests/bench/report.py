"""The benchmark's results as JSON, a Markdown table and a chart."""

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # after choosing the backend


def write_report(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(markdown(results))
    chart(results, out / "throughput.png")


def markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = [
        f"Run {machine['when']}, {machine['cores']} cores, Python {machine['python']}, "
        f"{results['duration_s']:.0f} s per measurement; load generator, broker and service "
        "share the machine.",
        "",
        "| concurrency | HTTP ceiling req/s (p99 ms; CPU µs/req) "
        "| broker ceiling msg/s (p99 ms; CPU µs/msg) "
        "| taskhook req/s | p50 / p95 / p99 ms | CPU µs/req | taskhook / broker | taskhook / HTTP "
        "| one-core bound / broker | accepted / in queue / lost |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for http, broker, own in zip(
        results["http"], results["broker"], results["taskhook"], strict=True
    ):
        lines.append(
            f"| {own['concurrency']} "
            f"| {http['per_s']:,.0f} ({http['p99_ms']:.1f}; {http['cpu_us_per_request']}) "
            f"| {broker['per_s']:,.0f} ({broker['p99_ms']:.1f}; {broker['cpu_us_per_message']}) "
            f"| **{own['per_s']:,.0f}** "
            f"| {own['p50_ms']:.1f} / {own['p95_ms']:.1f} / {own['p99_ms']:.1f} "
            f"| {own['cpu_us_per_request']} "
            f"| {own['per_s'] / broker['per_s']:.0%} | {own['per_s'] / http['per_s']:.0%} "
            f"| {one_core_bound(http, broker) / broker['per_s']:.0%} "
            f"| {own['accepted']} / {own['in_queue']} / {own['lost']} |"
        )
    loop = results["open_loop"]
    process = results["process"]
    workers = {run["workers"]: run for run in results["workers"]}
    lines += [
        "",
        f"Open loop at {loop['share']:.0%} of capacity ({loop['target_per_s']:,.0f}/s of the "
        f"{loop['capacity']['per_s']:,.0f}/s that its generator got in a closed loop of "
        f"{loop['capacity']['concurrency']} connections, "
        f"achieved {loop['per_s']:,.0f}/s): p50 {loop['p50_ms']:.1f} ms, "
        f"p95 {loop['p95_ms']:.1f} ms, "
        f"**p99 {loop['p99_ms']:.1f} ms**; statuses {loop['statuses']}, errors {loop['errors']}, "
        f"lost {loop['lost']}.",
        "",
        f"Process: ready {process['ready_s']:.2f} s after start (broker up); idle RSS "
        f"{process['idle_rss_kib'] / 1024:.0f} MiB, peak {results['peak_rss_kib'] / 1024:.0f} MiB.",
        "",
        f"Workers at concurrency {workers[1]['concurrency']}: "
        f"1 → {workers[1]['per_s']:,.0f} req/s, 2 → {workers[2]['per_s']:,.0f} req/s "
        f"({workers[2]['per_s'] / workers[1]['per_s']:.2f}x); "
        f"lost {workers[1]['lost'] + workers[2]['lost']}.",
        "",
    ]
    return "\n".join(lines)


def one_core_bound(http: dict[str, Any], broker: dict[str, Any]) -> float:
    """Requests/s of one process that spends, per request, only what the bare HTTP handler and
    the ceiling's publish each spend on their own: the most that one core can do for both jobs,
    before any checking, while it has the core to itself."""
    return 1e6 / float(http["cpu_us_per_request"] + broker["cpu_us_per_message"])


def chart(results: dict[str, Any], path: Path) -> None:
    figure, (rate, p99) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (
        ("http", "HTTP ceiling"),
        ("broker", "broker ceiling"),
        ("taskhook", "taskhook"),
    ):
        levels = [run["concurrency"] for run in results[key]]
        rate.plot(levels, [run["per_s"] for run in results[key]], marker="o", label=label)
        p99.plot(levels, [run["p99_ms"] for run in results[key]], marker="o", label=label)
    for axes, title in ((rate, "throughput (per s)"), (p99, "p99 latency (ms)")):
        axes.set_xscale("log", base=2)
        axes.set_xlabel("concurrency")
        axes.set_title(title)
        axes.grid(alpha=0.3)
    p99.set_yscale("log")
    rate.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
