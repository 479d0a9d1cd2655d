"""What the archive costs the ingest: taskhook with and without it, side by side.

Two ``taskhook serve`` processes on the same exchange, one with ``TASKHOOK_ARCHIVE_ENABLED=false``,
take turns under the same closed-loop load as the main comparison (pairs alternate which goes
first). With the archive, every publish is confirmed only once the stream has it too, so the
figure is the whole price of "a 2xx implies archived": the extra queue's write and its confirm.
"""

from typing import TYPE_CHECKING, Any

from aio_pika.abc import AbstractChannel

if TYPE_CHECKING:
    from tests.bench.run import Bench

WITH, WITHOUT = "archive", "no archive"
PORTS = {WITH: 18095, WITHOUT: 18096}
FIGURES = ("per_s", "p99_ms", "cpu_us_per_request")


async def archive_cost(
    bench: "Bench", channel: AbstractChannel, levels: list[int], pairs: int
) -> dict[str, Any]:
    """Each level, ``pairs`` alternating pairs of runs with and without the archive."""
    from tests.bench.run import alternating, running

    runs = []
    serve = bench.serve_command()
    enabled = {WITH: "true", WITHOUT: "false"}
    with (
        running(serve, PORTS[WITH], "/readyz", bench.exchange, archive=enabled[WITH]) as on,
        running(serve, PORTS[WITHOUT], "/readyz", bench.exchange, archive=enabled[WITHOUT]) as off,
    ):
        pids = {WITH: on.pid, WITHOUT: off.pid}
        for level in levels:
            for pair in range(pairs):
                for name in alternating([WITH, WITHOUT], pair):
                    figures = bench.costed(pids[name], PORTS[name], level, bench.deliveries())
                    figures |= await bench.accounted(channel, figures)
                    runs.append(figures | {"server": name, "pair": pair})
    return {"runs": runs}


def archive_lines(archive: dict[str, Any]) -> list[str]:
    """The medians side by side, and the archive's cost in throughput and CPU."""
    from tests.bench.report import _median

    runs = archive["runs"]
    out = [
        "The archive's cost: taskhook with the archive stream (the default) and without it "
        "(TASKHOOK_ARCHIVE_ENABLED=false), alternating, medians:",
        "",
        "| in flight | without req/s | with req/s | throughput cost | without p99 ms "
        "| with p99 ms | without CPU µs/req | with CPU µs/req | lost (without / with) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for level in sorted({run["concurrency"] for run in runs}):
        median = {
            name: {
                key: _median(
                    r[key] for r in runs if r["concurrency"] == level and r["server"] == name
                )
                for key in FIGURES
            }
            | {
                "lost": sum(
                    r["lost"] for r in runs if r["concurrency"] == level and r["server"] == name
                )
            }
            for name in (WITH, WITHOUT)
        }
        on, off = median[WITH], median[WITHOUT]
        cost = 1 - on["per_s"] / off["per_s"]
        out.append(
            f"| {level} | {off['per_s']:,.0f} | {on['per_s']:,.0f} | **{cost:.1%}** "
            f"| {off['p99_ms']:.1f} | {on['p99_ms']:.1f} | {off['cpu_us_per_request']:.0f} "
            f"| {on['cpu_us_per_request']:.0f} | {off['lost']:.0f} / {on['lost']:.0f} |"
        )
    return out
