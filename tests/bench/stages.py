"""What each stage of a server's request path costs, in instructions, taking parts away.

``python -m tests.bench.stages taskhook:shipped taskhook:no-amqp peer:no-amqp`` starts each
variant under valgrind's callgrind with counting off, warms it up, counts the instructions the
server executes while it answers exactly ``--requests`` signed deliveries at ``--concurrency`` in
flight, and prints instructions per request. Counts are of user space only (no kernel time) and
repeat within a fraction of a percent from run to run, whatever else the machine does: what a
shared 2-core machine cannot give with CPU time. ``--syscalls`` counts system calls per request
with strace instead (these cost kernel time the instruction count does not see).

Variants (``server:variant``):

- ``taskhook:shipped``, ``peer:shipped``: as the bench runs them;
- ``taskhook:no-amqp``, ``peer:no-amqp``: the publish replaced by one that confirms at once, so
  what is left is the HTTP side (reading, checking, validating, answering, logging, counting);
- ``taskhook:no-log``: no-amqp and the log level at WARNING (no line per delivery);
- ``taskhook:no-protocol``: no-amqp on aiohttp's own runner (no problem answers for what the
  HTTP parser refuses), to see what taskhook's protocol subclass costs a request.

Run it under ``flock -x /tmp/taskhook-machine.lock`` when a variant publishes (``shipped``).
"""

import argparse
import asyncio
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aio_pika

from tests.bench.open_loop import Connection, prepared
from tests.bench.run import AMQP_URL, SECRET, Bench, running

PORT = 18094
WARM_UP = 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variants", nargs="+", help="server:variant, e.g. taskhook:no-amqp")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--syscalls", action="store_true", help="strace -c instead of callgrind")
    parser.add_argument("--keep", type=Path, help="keep callgrind's output files here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        asyncio.run(measure_all(Path(scratch), args))


async def measure_all(scratch: Path, args: argparse.Namespace) -> None:
    bench = Bench(scratch, 1)
    connection = await aio_pika.connect(AMQP_URL)
    channel = await connection.channel()
    await bench.declare(channel)
    lines = signed_lines(scratch, args.requests + WARM_UP)
    try:
        for variant in args.variants:
            figures = await measure(bench, variant, lines, args, scratch)
            print(f"{variant:24} {figures}", flush=True)
            await bench.drain(channel)
    finally:
        await bench.remove(channel)
        await connection.close()


def signed_lines(scratch: Path, count: int) -> list[tuple[str, bytes]]:
    path = scratch / "deliveries.txt"
    from tests.bench.deliveries import write_signed

    write_signed(path, count, SECRET)
    lines = []
    for line in path.read_bytes().splitlines():
        signature, body = line.split(b"\t", 1)
        lines.append((signature.decode(), body))
    return lines


async def measure(
    bench: Bench,
    variant: str,
    lines: list[tuple[str, bytes]],
    args: argparse.Namespace,
    scratch: Path,
) -> str:
    server, _, kind = variant.partition(":")
    serve = [sys.executable, "-m", "tests.bench.stages_serve", server, kind or "shipped"]
    out = (args.keep or scratch) / f"{server}.{kind}.%p.out"
    if args.syscalls:
        tool = []  # strace attaches once warm, for the counted requests only
    else:
        tool = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
        ]
    with running([*tool, *serve], PORT, "/readyz", bench.exchange, ready_s=180) as process:
        warm, counted = lines[:WARM_UP], lines[WARM_UP:]
        await send(warm, args.concurrency)
        if not args.syscalls:
            control(process.pid, "-i", "on")
        else:
            attach = subprocess.Popen(  # a second strace, attached only for the counted part
                ["strace", "-f", "-c", "-p", str(process.pid), "-o", str(scratch / "counted")],
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1)
        started = time.perf_counter()
        statuses = await send(counted, args.concurrency)
        elapsed = time.perf_counter() - started
        if not args.syscalls:
            control(process.pid, "-i", "off")
            control(process.pid, "-d")
        else:
            attach.send_signal(signal.SIGINT)  # strace writes its summary as it detaches
            attach.wait(30)
    if args.syscalls:
        return syscall_summary((scratch / "counted").read_text(), len(counted), statuses)
    total = sum(instructions(path) for path in out.parent.glob(out.name.replace("%p", "*") + "*"))
    for path in out.parent.glob(out.name.replace("%p", "*") + "*"):
        if not args.keep:
            path.unlink()
    per = total / len(counted)
    return f"{per / 1000:8.1f} k instructions/request  ({statuses}, {elapsed:.0f} s)"


def control(pid: int, *what: str) -> None:
    subprocess.run(["callgrind_control", *what, str(pid)], check=True, capture_output=True)


def instructions(path: Path) -> int:
    """The instructions a callgrind output file counted (its ``totals:`` or ``summary:`` line,
    of the dumps with counting on)."""
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith(("totals:", "summary:")):
            total = max(total, int(line.split()[1]))
    return total


def syscall_summary(text: str, count: int, statuses: dict[int, int]) -> str:
    calls = {}
    for line in text.splitlines():
        match = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", line)
        if match and match.group(2) != "total":
            calls[match.group(2)] = int(match.group(1))
    per = {name: round(n / count, 2) for name, n in sorted(calls.items(), key=lambda kv: -kv[1])}
    return f"{sum(calls.values()) / count:.2f} syscalls/request {per} ({statuses})"


async def send(lines: list[tuple[str, bytes]], concurrency: int) -> dict[int, int]:
    """Send every line once, ``concurrency`` connections each taking the next one when answered."""
    loop = asyncio.get_running_loop()
    requests = iter([prepared("127.0.0.1", PORT, "/webhooks/livepeer", *line) for line in lines])
    statuses: dict[int, int] = {}

    async def keep_sending() -> None:
        _, connection = await loop.create_connection(Connection, "127.0.0.1", PORT)
        for request in requests:
            status = await connection.exchange(request)
            statuses[status] = statuses.get(status, 0) + 1
        assert connection.transport is not None
        connection.transport.close()

    await asyncio.gather(*(keep_sending() for _ in range(concurrency)))
    return statuses


if __name__ == "__main__":
    main()
