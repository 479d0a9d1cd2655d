"""A fixed-rate load generator: sends on schedule whatever the answers, so a slow answer shows
up as latency instead of silently lowering the rate (no coordinated omission).

Latency is measured from when each request was due, not from when it was sent. Requests go out
over a pool of keep-alive connections; a request due while every connection is busy waits for
one, and that wait counts. It speaks just enough HTTP/1.1 to send a prepared request and read a
``Content-Length`` answer: an HTTP client library would cost more CPU than the service it
measures, on a machine they share. Prints one JSON line of figures, every status counted.

``--closed N`` measures instead what this generator gets from the service with N connections
each sending again as soon as it is answered: the capacity that a rate for the open loop is a
share of. wrk gets more from the same service, because it leaves the service more CPU.
"""

import argparse
import asyncio
import collections
import itertools
import time
from pathlib import Path
from typing import cast

import orjson
import uvloop

from tests.bench.stats import summary

CONNECTIONS = 64


class Connection(asyncio.Protocol):
    """One keep-alive connection that carries one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.answered: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.answered is None:
            return
        head = bytes(self.buffer[:end]).lower()
        length = (
            int(head.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            if b"content-length:" in head
            else 0
        )
        if len(self.buffer) < end + 4 + length:
            return
        status = int(head[9:12])
        del self.buffer[: end + 4 + length]
        self.answered.set_result(status)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.answered is not None and not self.answered.done():
            self.answered.set_exception(ConnectionError("closed"))

    async def exchange(self, request: bytes) -> int:
        assert self.transport is not None
        self.answered = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.answered


def prepared(host: str, port: int, path: str, signature: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Livepeer-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def run(
    host: str, port: int, path: str, lines: list[tuple[str, bytes]], rate: float, duration_s: float
) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(CONNECTIONS):
        _, connection = await loop.create_connection(Connection, host, port)
        idle.put_nowait(connection)
    statuses: collections.Counter[int] = collections.Counter()
    latencies: list[float] = []
    errors = 0

    async def send(due: float, request: bytes) -> None:
        nonlocal errors
        connection = await idle.get()
        try:
            statuses[await connection.exchange(request)] += 1
        except ConnectionError:
            errors += 1
            _, connection = await loop.create_connection(Connection, host, port)
        else:
            latencies.append(time.perf_counter() - due)
        idle.put_nowait(connection)

    total = int(rate * duration_s)
    requests = [prepared(host, port, path, *lines[index % len(lines)]) for index in range(total)]
    start = time.perf_counter() + 0.1
    pending: set[asyncio.Task[None]] = set()
    for index, request in enumerate(requests):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(send(due, request))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    elapsed = time.perf_counter() - start
    figures = summary(len(latencies), elapsed, latencies, errors)
    counted = {str(status): count for status, count in statuses.items()}
    return figures | {"target_per_s": rate, "statuses": counted}


async def run_closed(
    host: str,
    port: int,
    path: str,
    lines: list[tuple[str, bytes]],
    concurrency: int,
    duration_s: float,
) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    requests = itertools.cycle([prepared(host, port, path, *line) for line in lines])
    statuses: collections.Counter[int] = collections.Counter()
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration_s

    async def keep_sending() -> None:
        nonlocal errors
        _, connection = await loop.create_connection(Connection, host, port)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                statuses[await connection.exchange(next(requests))] += 1
            except ConnectionError:
                errors += 1
                _, connection = await loop.create_connection(Connection, host, port)
            else:
                latencies.append(time.perf_counter() - started)

    start = time.perf_counter()
    await asyncio.gather(*(keep_sending() for _ in range(concurrency)))
    figures = summary(len(latencies), time.perf_counter() - start, latencies, errors)
    counted = {str(status): n for status, n in statuses.items()}
    return figures | {"concurrency": concurrency, "statuses": counted}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/webhooks/livepeer")
    parser.add_argument("--deliveries", type=Path, required=True)
    load = parser.add_mutually_exclusive_group(required=True)
    load.add_argument("--rate", type=float, help="requests per second, on schedule")
    load.add_argument("--closed", type=int, metavar="N", help="N connections, closed loop")
    parser.add_argument("--duration", type=float, required=True)
    args = parser.parse_args()
    lines = []
    with args.deliveries.open("rb") as source:
        for line in source:
            signature, body = line.rstrip(b"\n").split(b"\t", 1)
            lines.append((signature.decode(), body))
    figures = uvloop.run(
        run_closed("127.0.0.1", args.port, args.path, lines, args.closed, args.duration)
        if args.closed
        else run("127.0.0.1", args.port, args.path, lines, args.rate, args.duration)
    )
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    main()
