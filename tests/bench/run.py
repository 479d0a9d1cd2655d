"""``make bench``: taskhook against the handler a user would write instead, in one run.

Three servers run side by side for the whole run and take turns under load: the handler,
taskhook as shipped and taskhook without its archive. At each concurrency, rounds run each
server once, in orders that give every server each place equally often (``rotated``), so drift
on a shared machine falls on all alike; the machine is left to settle before every run. The
same signed deliveries (every task event and type, about 1 KB each) are sent by load generators
in processes of their own: wrk for closed-loop runs, ``open_loop.py`` for the fixed-rate one.
Every answer is counted, and every delivery a server accepted is counted again in the quorum
queue bound to the exchange; the broker's CPU and a probe of its confirms are read beside.
``--ceilings`` adds the bare HTTP and broker ceilings, ``--workers`` taskhook with one and two
workers. Writes ``docs/bench/results.json``, ``results.md`` and ``throughput.png``; asserts
nothing (shared machines are noisy: read the ratios within one run).
"""

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aio_pika
from aio_pika.abc import AbstractChannel

from tests.bench.deliveries import write_signed
from tests.bench.drain import drain_all
from tests.bench.report import write_report
from tests.bench.stats import (
    cpu_seconds,
    cpu_split,
    listening_pid,
    median,
    process_rss_kib,
    settle,
    wait_for,
)

HERE = Path(__file__).parent
SECRET = b"bench-secret"
AMQP_URL = os.environ.get("TASKHOOK_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
HTTP_PORT, TASKHOOK_PORT, PEER_PORT, NO_ARCHIVE_PORT = 18091, 18092, 18093, 18096
# The servers compared: the handler, taskhook as shipped (its archive on), and taskhook with
# TASKHOOK_ARCHIVE_ENABLED=false, which is what the archive costs beside everything else.
PEER, TASKHOOK, NO_ARCHIVE = "peer", "taskhook", "taskhook-no-archive"
# More unique deliveries than taskhook can take in a run, so none is sent twice.
MAX_RATE_PER_S = 8000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", default="16,64", help="comma-separated levels")
    parser.add_argument(
        "--pairs",
        type=int,
        default=3,
        help="rounds per level, each server once a round (6 balance every order of three)",
    )
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measurement")
    parser.add_argument("--share", type=float, default=0.7, help="open-loop rate / peer's rate")
    parser.add_argument("--open-loops", type=int, default=3, help="open-loop runs of each server")
    parser.add_argument("--ceilings", action="store_true", help="also the HTTP and broker ceilings")
    parser.add_argument("--workers", action="store_true", help="also taskhook with 1 and 2 workers")
    parser.add_argument(
        "--drain", type=int, default=20_000, help="events the consumers drain (0: skip them)"
    )
    parser.add_argument("--out", type=Path, default=Path("docs/bench"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is not installed (apt-get install wrk)")
    levels = [int(level) for level in args.concurrency.split(",")]
    # The deliveries file (tens of MB, written before every run) is kept in memory where the
    # machine offers it, so writing it out does not compete with the broker's own disk writes.
    # TemporaryDirectory makes a directory of its own in it, readable by this user only.
    shm = "/dev/shm"  # noqa: S108
    in_memory = shm if os.path.isdir(shm) else None
    with tempfile.TemporaryDirectory(dir=in_memory) as scratch:
        bench = Bench(Path(scratch), args.duration)
        results = asyncio.run(bench.measure(levels, args))
    write_report(results, args.out)
    print((args.out / "results.md").read_text())


class Bench:
    def __init__(self, scratch: Path, duration_s: float) -> None:
        self.scratch = scratch
        self.duration_s = duration_s
        self.exchange = f"bench.{uuid.uuid4().hex[:8]}"
        self.queue = f"{self.exchange}.all"
        self.probe_queue = f"{self.exchange}.probe"
        # A server's messages cost the broker too, and on this machine the broker shares the
        # cores with the servers: its CPU per request is part of what each server asks for.
        self.broker_pid = listening_pid(urlsplit(AMQP_URL).port or 5672)

    async def measure(self, levels: list[int], args: argparse.Namespace) -> dict[str, Any]:
        connection = await aio_pika.connect(AMQP_URL)
        channel = await connection.channel()
        await self.declare(channel)
        try:
            results: dict[str, Any] = {"machine": machine(), "duration_s": self.duration_s}
            results |= await self.compare(channel, levels, args.pairs, args.share, args.open_loops)
            if args.drain:
                results["drain"] = await drain_all(AMQP_URL, args.drain)
            if args.ceilings:
                results["http"] = self.http_ceiling(levels)
                results["broker"] = [await self.broker_ceiling(channel, n) for n in levels]
            if args.workers:
                results["workers"] = await self.workers(channel, max(levels))
        finally:
            await self.remove(channel)
            await connection.close()
        return results

    async def remove(self, channel: AbstractChannel) -> None:
        """Delete everything the run declared, the services' topology included."""
        queues = ("all", "unrouted", "rejected", "archive", "probe")
        for name in (self.queue, *(f"{self.exchange}.{kind}" for kind in queues[1:])):
            await channel.queue_delete(name)
        for name in (self.exchange, f"{self.exchange}.unrouted", f"{self.exchange}.archive"):
            await channel.exchange_delete(name)

    async def compare(
        self,
        channel: AbstractChannel,
        levels: list[int],
        pairs: int,
        share: float,
        open_loops_wanted: int = 3,
    ) -> dict[str, Any]:
        """The handler, taskhook as shipped and taskhook without its archive at each level, in
        rounds that rotate which goes first; then all three in the open loop, as many times,
        each round another going first."""
        started = time.perf_counter()
        with running(self.serve_command(), TASKHOOK_PORT, "/readyz", self.exchange) as own:
            ready_s = time.perf_counter() - started
            time.sleep(1)
            idle_rss = process_rss_kib(own.pid, "VmRSS")
            with (
                running(self.peer_command(), PEER_PORT, "/readyz", self.exchange) as peer,
                running(
                    self.serve_command(), NO_ARCHIVE_PORT, "/readyz", self.exchange, "false"
                ) as without_archive,
            ):
                servers = {
                    PEER: (peer.pid, PEER_PORT),
                    TASKHOOK: (own.pid, TASKHOOK_PORT),
                    NO_ARCHIVE: (without_archive.pid, NO_ARCHIVE_PORT),
                }
                runs = []
                for level in levels:
                    for pair in range(pairs):
                        for name in rotated(list(servers), pair):
                            pid, port = servers[name]
                            deliveries = self.deliveries()  # written before the machine settles
                            settled_s = settle()
                            figures = self.costed(pid, port, level, deliveries)
                            figures |= await self.accounted(channel, figures)
                            runs.append(
                                figures | {"server": name, "pair": pair, "settled_s": settled_s}
                            )
                peer_rate = median(
                    run["per_s"]
                    for run in runs
                    if run["server"] == PEER and run["concurrency"] == levels[0]
                )
                rate = round(peer_rate * share, 1)
                open_loops: list[dict[str, Any]] = []
                for turn in range(open_loops_wanted):
                    open_loop = {}
                    for name in rotated(list(servers), turn):
                        deliveries = self.deliveries()
                        settle()
                        figures = self.open_loop(servers[name][1], deliveries, "--rate", str(rate))
                        open_loop[name] = figures | await self.accounted(channel, figures)
                    open_loops.append(open_loop)
            peak_rss = process_rss_kib(own.pid)
        return {
            "runs": runs,
            "open_loop": {"share": share, "of_peer_per_s": peer_rate, "runs": open_loops},
            "process": {
                "ready_s": round(ready_s, 3),
                "idle_rss_kib": idle_rss,
                "peak_rss_kib": peak_rss,
            },
        }

    async def declare(self, channel: AbstractChannel) -> None:
        exchange = await channel.declare_exchange(
            self.exchange,
            aio_pika.ExchangeType.TOPIC,
            durable=True,
            arguments={"alternate-exchange": f"{self.exchange}.unrouted"},
        )
        queue = await channel.declare_queue(
            self.queue, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(exchange, "#")
        # Only the latest probes are kept: nobody reads them, and the queue must stay small.
        await channel.declare_queue(
            self.probe_queue,
            durable=True,
            arguments={"x-queue-type": "quorum", "x-max-length": 1000},
        )

    def deliveries(self) -> Path:
        """A file of deliveries signed now (the signature's tolerance is minutes)."""
        path = self.scratch / "deliveries.txt"
        write_signed(path, int(MAX_RATE_PER_S * (self.duration_s + 2)), SECRET)
        return path

    def http_ceiling(self, levels: list[int]) -> list[dict[str, Any]]:
        deliveries = self.deliveries()
        command = [sys.executable, "-m", "tests.bench.bare_server", "--port", str(HTTP_PORT)]
        with running(command, HTTP_PORT, "/healthz-none") as server:
            figures = [self.costed(server.pid, HTTP_PORT, level, deliveries) for level in levels]
            peak = process_rss_kib(server.pid)
        return [figure | {"peak_rss_kib": peak} for figure in figures]

    async def broker_ceiling(self, channel: AbstractChannel, level: int) -> dict[str, Any]:
        command = [
            sys.executable,
            "-m",
            "tests.bench.broker_ceiling",
            "--url",
            AMQP_URL,
            "--exchange",
            self.exchange,
            "--deliveries",
            str(self.deliveries()),
            "--concurrency",
            str(level),
            "--duration",
            str(self.duration_s),
        ]
        output = output_of(command)
        figures: dict[str, Any] = json.loads(output) | {"concurrency": level}
        figures["in_queue"] = await self.drain(channel)
        return figures

    async def workers(self, channel: AbstractChannel, level: int) -> list[dict[str, Any]]:
        figures = []
        for count in (1, 2):
            command = [*self.serve_command(), "--workers", str(count)]
            with running(command, TASKHOOK_PORT, "/readyz", self.exchange):
                run = self.wrk(TASKHOOK_PORT, level, self.deliveries())
            figures.append(run | {"workers": count} | await self.accounted(channel, run))
        return figures

    def serve_command(self) -> list[str]:
        return [str(Path(sys.executable).parent / "taskhook"), "serve"]

    def peer_command(self) -> list[str]:
        return [sys.executable, "-m", "tests.bench.plain_handler", "--port", str(PEER_PORT)]

    def costed(self, pid: int, port: int, level: int, deliveries: Path) -> dict[str, Any]:
        """A wrk run, and the CPU that the server ``pid`` spent per request during it."""
        user_before, system_before = cpu_split(pid)
        broker_before = cpu_seconds(self.broker_pid) if self.broker_pid else 0.0
        with self.probing() as probe:
            figures = self.wrk(port, level, deliveries)
        user, system = cpu_split(pid)
        count = max(figures["count"], 1)
        figures |= {
            "cpu_us_per_request": round(
                (user - user_before + system - system_before) / count * 1e6
            ),
            "system_us_per_request": round((system - system_before) / count * 1e6),
        }
        if self.broker_pid:
            broker = cpu_seconds(self.broker_pid) - broker_before
            figures["broker_cpu_us_per_request"] = round(broker / count * 1e6)
        return figures | {"probe": probe}

    @contextmanager
    def probing(self) -> Any:
        """While inside, ``tests.bench.broker_probe`` times a confirmed publish every 10 ms; the
        dict yielded gets its figures on the way out."""
        command = [
            sys.executable,
            "-m",
            "tests.bench.broker_probe",
            "--url",
            AMQP_URL,
            "--queue",
            self.probe_queue,
        ]
        figures: dict[str, Any] = {}
        probe = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        try:
            assert probe.stdout is not None
            if probe.stdout.readline().strip() != "ready":
                raise RuntimeError("the broker probe did not start")
            yield figures
        finally:
            probe.terminate()
            output, _ = probe.communicate(timeout=30)
        figures |= json.loads(output.strip().splitlines()[-1])

    def wrk(self, port: int, level: int, deliveries: Path) -> dict[str, Any]:
        command = [
            "wrk",
            "-t1",
            f"-c{level}",
            f"-d{round(self.duration_s)}s",
            "--timeout",
            "30s",
            "-s",
            str(HERE / "deliveries.lua"),
            f"http://127.0.0.1:{port}/webhooks/livepeer",
            "--",
            str(deliveries),
            "1",
        ]
        output = output_of(command)
        result = json.loads(output.split("RESULT ", 1)[1])
        seconds = result["duration_us"] / 1e6
        latency = result["latency_us"]
        return {
            "concurrency": level,
            "count": result["requests"],
            "per_s": round(result["requests"] / seconds, 1),
            "p50_ms": latency["p50"] / 1000,
            "p95_ms": latency["p95"] / 1000,
            "p99_ms": latency["p99"] / 1000,
            "errors": sum(result["errors"].values()),
            "statuses": result["statuses"],
        }

    def open_loop(self, port: int, deliveries: Path, *load: str) -> dict[str, Any]:
        command = [
            sys.executable,
            "-m",
            "tests.bench.open_loop",
            "--port",
            str(port),
            "--deliveries",
            str(deliveries),
            *load,
            "--duration",
            str(self.duration_s),
        ]
        output = output_of(command)
        figures: dict[str, Any] = json.loads(output)
        return figures

    async def accounted(self, channel: AbstractChannel, figures: dict[str, Any]) -> dict[str, Any]:
        """Accepted deliveries against what reached the queue (requests wrk abandoned at the end
        may still be published, so the queue can hold more, never fewer)."""
        await asyncio.sleep(1)  # let publishes in flight when the generator stopped finish
        accepted = int(figures["statuses"].get("202", figures["statuses"].get(202, 0)))
        in_queue = await self.drain(channel)
        return {"accepted": accepted, "in_queue": in_queue, "lost": max(0, accepted - in_queue)}

    async def drain(self, channel: AbstractChannel) -> int:
        """How many messages the queue holds (exact: counted by the queue itself); then empty it."""
        declared = await channel.declare_queue(self.queue, passive=True)
        count = declared.declaration_result.message_count or 0
        await declared.purge()
        return count


def rotated(names: list[str], turn: int) -> list[str]:
    """The order of round ``turn``: ``names`` rotated, then, every other cycle of rotations,
    reversed and rotated (a Williams design). Over ``2 * len(names)`` rounds each name runs in
    each place equally often and right after each other name equally often, so neither a
    place nor what the run before left behind favours one; over ``len(names)`` rounds each
    goes first once (for two names, they alternate)."""
    shift = turn % len(names)
    base = names if (turn // len(names)) % 2 == 0 else names[::-1]
    return base[shift:] + base[:shift]


def output_of(command: list[str]) -> str:
    """What ``command`` printed; if it failed, its last words, to say why."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0:3]} failed: {done.stderr[-2000:]}")
    return done.stdout


@contextmanager
def running(
    command: list[str],
    port: int,
    ready_path: str,
    exchange: str = "",
    archive: str = "true",
    *,
    ready_s: float = 20,
) -> Any:
    environment = {
        **os.environ,
        "TASKHOOK_PORT": str(port),
        "TASKHOOK_HOST": "127.0.0.1",
        "TASKHOOK_WEBHOOK_SECRETS": SECRET.decode(),
        "TASKHOOK_AMQP_URL": AMQP_URL,
        "TASKHOOK_EXCHANGE": exchange or "unused",
        "TASKHOOK_ARCHIVE_ENABLED": archive,
    }
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(port, ready_path, ready_s)
        yield process
    finally:
        process.terminate()
        process.wait(30)


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


if __name__ == "__main__":
    main()
