"""Where a server's time goes under load: py-spy samples it while wrk drives it.

``python -m tests.bench.profile --server taskhook --concurrency 16`` starts the server on the
bench's exchange, drives it with signed deliveries for ``--duration`` seconds, and prints the
share of samples per stage (inclusive: a stage counts every sample with one of its functions on
the stack) and the functions that hold the most samples themselves. Run it under
``flock -x /tmp/taskhook-machine.lock``: it loads the shared broker.
"""

import argparse
import asyncio
import collections
import subprocess
import sys
import tempfile
from pathlib import Path

import aio_pika

from tests.bench.run import AMQP_URL, PEER_PORT, TASKHOOK_PORT, Bench, running

# A sample belongs to the first stage (top of the stack down) whose marker its frames contain.
STAGES = {
    "log line": ("logging/", "taskhook/logs.py"),
    "metrics": ("prometheus_client",),
    "signature": ("core/signature.py", "hmac.py", "signature_ok"),
    "validation": ("pydantic", "core/delivery.py", "model_validate"),
    "message": ("core/message.py",),
    "publish": ("aiormq", "aio_pika", "pamqp", "broker/amqp/", "broker/confirmed.py"),
    "dedup": ("application/dedup.py",),
    "http": ("aiohttp",),
    "event loop": ("uvloop", "asyncio"),
    "gc": ("(gc)", "<gc>"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", choices=("taskhook", "peer"), default="taskhook")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        asyncio.run(profile(Path(scratch), args))


async def profile(scratch: Path, args: argparse.Namespace) -> None:
    bench = Bench(scratch, args.duration)
    connection = await aio_pika.connect(AMQP_URL)
    channel = await connection.channel()
    await bench.declare(channel)
    try:
        port = TASKHOOK_PORT if args.server == "taskhook" else PEER_PORT
        command = bench.serve_command() if args.server == "taskhook" else bench.peer_command()
        with running(command, port, "/readyz", bench.exchange) as server:
            samples = scratch / "samples.txt"
            spy = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "py-spy"),
                    *("record", "--pid", str(server.pid), "--format", "raw", "--nonblocking"),
                    *("--duration", str(round(args.duration)), "--rate", "250", "--gil"),
                    *("--output", str(samples)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            figures = bench.costed(server.pid, port, args.concurrency, bench.deliveries())
            spy.wait(60)
        print(
            f"{args.server} at {args.concurrency}: {figures['per_s']} req/s, "
            f"{figures['cpu_us_per_request']} µs CPU/req, p99 {figures['p99_ms']} ms"
        )
        report(samples.read_text(), args.top)
    finally:
        await bench.remove(channel)
        await connection.close()


def report(raw: str, top: int) -> None:
    stages: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        own[frames[-1]] += count
        stages[_stage(frames)] += count
    print("\nstage (inclusive share of samples)")
    for stage, count in stages.most_common():
        print(f"  {count / total:6.1%}  {stage}")
    print(f"\ntop {top} functions by own samples")
    for frame, count in own.most_common(top):
        print(f"  {count / total:6.1%}  {frame[:150]}")


def _stage(frames: list[str]) -> str:
    for frame in reversed(frames):
        for stage, markers in STAGES.items():
            if any(marker in frame for marker in markers):
                return stage
    return "other"


if __name__ == "__main__":
    main()
