"""The benchmark's results as JSON, a Markdown report and a chart."""

import json
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # after choosing the backend

SERVERS = (("peer", "straightforward handler"), ("taskhook", "taskhook"))


def write_report(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(markdown(results))
    chart(results, out / "throughput.png")


def medians(results: dict[str, Any]) -> dict[int, dict[str, dict[str, float]]]:
    """Per level and server, the median of each figure over its runs."""
    by_level: dict[int, dict[str, dict[str, float]]] = {}
    for level in sorted({run["concurrency"] for run in results["runs"]}):
        by_level[level] = {}
        for server, _ in SERVERS:
            runs = [
                r for r in results["runs"] if r["concurrency"] == level and r["server"] == server
            ]
            by_level[level][server] = {
                key: _median(run[key] for run in runs)
                for key in ("per_s", "p50_ms", "p99_ms", "cpu_us_per_request")
            } | {"lost": sum(run["lost"] for run in runs), "runs": len(runs)}
    return by_level


def markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    levels = medians(results)
    pairs = max(figures["peer"]["runs"] for figures in levels.values())
    lines = [
        f"Run {machine['when']}, {machine['cores']} cores, Python {machine['python']}, "
        f"{results['duration_s']:.0f} s per measurement, {pairs:.0f} alternating pairs per level; "
        "load generator, broker and both servers share the machine. Medians of the pairs.",
        "",
        "| in flight | handler req/s | taskhook req/s | taskhook / handler "
        "| handler p99 ms | taskhook p99 ms | handler CPU µs/req | taskhook CPU µs/req "
        "| CPU taskhook / handler | lost (handler / taskhook) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for level, figures in levels.items():
        peer, own = figures["peer"], figures["taskhook"]
        lines.append(
            f"| {level} | {peer['per_s']:,.0f} | **{own['per_s']:,.0f}** "
            f"| **{own['per_s'] / peer['per_s']:.2f}x** "
            f"| {peer['p99_ms']:.1f} | {own['p99_ms']:.1f} "
            f"| {peer['cpu_us_per_request']:.0f} | {own['cpu_us_per_request']:.0f} "
            f"| {own['cpu_us_per_request'] / peer['cpu_us_per_request']:.2f}x "
            f"| {peer['lost']:.0f} / {own['lost']:.0f} |"
        )
    lines += ["", *open_loop_lines(results["open_loop"]), "", *process_lines(results), ""]
    if "archive" in results:
        from tests.bench.archive_cost import archive_lines

        lines += [*archive_lines(results["archive"]), ""]
    if "drain" in results:
        lines += [*drain_lines(results["drain"], levels), ""]
    lines += ["Every run, in the order run:", "", *run_lines(results["runs"]), ""]
    if "http" in results:
        lines += [*ceiling_lines(results), ""]
    if "workers" in results:
        lines += [*worker_lines(results["workers"]), ""]
    return "\n".join(lines)


def open_loop_lines(loop: dict[str, Any]) -> list[str]:
    out = [
        f"Open loop at {loop['share']:.0%} of the handler's median closed-loop rate at the first "
        f"level ({loop['of_peer_per_s']:,.0f}/s), the same schedule for both:",
        "",
    ]
    for server, label in SERVERS:
        run = loop[server]
        out.append(
            f"- {label}: achieved {run['per_s']:,.0f}/s; p50 {run['p50_ms']:.1f} ms, "
            f"p95 {run['p95_ms']:.1f} ms, **p99 {run['p99_ms']:.1f} ms**; "
            f"statuses {run['statuses']}, errors {run['errors']}, lost {run['lost']}."
        )
    return out


def process_lines(results: dict[str, Any]) -> list[str]:
    process = results["process"]
    return [
        f"taskhook process: ready {process['ready_s']:.2f} s after start (broker up); idle RSS "
        f"{process['idle_rss_kib'] / 1024:.0f} MiB, peak {process['peak_rss_kib'] / 1024:.0f} MiB."
    ]


def drain_lines(drain: dict[str, Any], levels: dict[int, dict[str, dict[str, float]]]) -> list[str]:
    """The consumers' pace against the ingest's own closed-loop throughput from this run."""
    first = next(iter(levels))
    ingest = levels[first]["taskhook"]["per_s"]
    out = [
        f"Consumers draining {drain['count']:,} task events queued in advance, one process, "
        f"default settings, against the ingest's {ingest:,.0f} req/s at {first} in flight above. "
        "The tasks consumer writes each event's index row (taskhook history) in the transaction "
        "that applies it: its pace is the event index's drain.",
        "",
        "| consumer | msg/s | CPU µs/msg | / ingest |",
        "|---|---|---|---|",
    ]
    for name, figures in drain.items():
        if name == "count":
            continue
        out.append(
            f"| {name} | **{figures['per_s']:,.0f}** | {figures['cpu_us_per_message']} "
            f"| {figures['per_s'] / ingest:.1f}x |"
        )
    return out


def run_lines(runs: list[dict[str, Any]]) -> list[str]:
    out = [
        "| in flight | pair | server | req/s | p50 / p99 ms | CPU µs/req "
        "| accepted / in queue / lost |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        out.append(
            f"| {run['concurrency']} | {run['pair'] + 1} | {run['server']} | {run['per_s']:,.0f} "
            f"| {run['p50_ms']:.1f} / {run['p99_ms']:.1f} | {run['cpu_us_per_request']} "
            f"| {run['accepted']} / {run['in_queue']} / {run['lost']} |"
        )
    return out


def ceiling_lines(results: dict[str, Any]) -> list[str]:
    out = [
        "Ceilings: the bare HTTP server (read the body, answer 204) and the broker alone "
        "(aiormq publishing with confirms, no HTTP):",
        "",
        "| in flight | HTTP req/s (p99 ms; CPU µs/req) | broker msg/s (p99 ms; CPU µs/msg) |",
        "|---|---|---|",
    ]
    for http, broker in zip(results["http"], results["broker"], strict=True):
        out.append(
            f"| {http['concurrency']} "
            f"| {http['per_s']:,.0f} ({http['p99_ms']:.1f}; {http['cpu_us_per_request']}) "
            f"| {broker['per_s']:,.0f} ({broker['p99_ms']:.1f}; {broker['cpu_us_per_message']}) |"
        )
    return out


def worker_lines(workers: list[dict[str, Any]]) -> list[str]:
    by_count = {run["workers"]: run for run in workers}
    one, two = by_count[1], by_count[2]
    return [
        f"taskhook workers at {one['concurrency']} in flight: 1 → {one['per_s']:,.0f} req/s, "
        f"2 → {two['per_s']:,.0f} req/s ({two['per_s'] / one['per_s']:.2f}x); "
        f"lost {one['lost'] + two['lost']}."
    ]


def chart(results: dict[str, Any], path: Path) -> None:
    figure, (rate, p99) = plt.subplots(1, 2, figsize=(10, 4))
    levels = medians(results)
    for server, label in SERVERS:
        xs = list(levels)
        line = rate.plot(xs, [levels[x][server]["per_s"] for x in xs], marker="o", label=label)
        p99.plot(xs, [levels[x][server]["p99_ms"] for x in xs], marker="o", label=label)
        color = line[0].get_color()
        runs = [run for run in results["runs"] if run["server"] == server]
        rate.scatter([r["concurrency"] for r in runs], [r["per_s"] for r in runs], s=8, c=color)
        p99.scatter([r["concurrency"] for r in runs], [r["p99_ms"] for r in runs], s=8, c=color)
    for axes, title in ((rate, "throughput (per s)"), (p99, "p99 latency (ms)")):
        axes.set_xscale("log", base=2)
        axes.set_xlabel("requests in flight")
        axes.set_title(title)
        axes.grid(alpha=0.3)
    rate.set_ylim(bottom=0)
    rate.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _median(values: Iterable[float]) -> float:
    return float(statistics.median(values))
