"""A fixed-rate load generator: sends on schedule whatever the answers, so a slow answer shows
up as latency instead of silently lowering the rate (no coordinated omission).

Latency is measured from when each request was due, not from when it was sent. Prints one JSON
line of figures, with every status counted.
"""

import argparse
import asyncio
import collections
import time
from pathlib import Path

import aiohttp
import orjson
import uvloop

from tests.bench.stats import summary


async def run(
    url: str, lines: list[tuple[str, bytes]], rate: float, duration_s: float
) -> dict[str, object]:
    statuses: collections.Counter[int] = collections.Counter()
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=1024)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def send(due: float, signature: str, body: bytes) -> None:
            nonlocal errors
            try:
                async with http.post(
                    url,
                    data=body,
                    headers={"Content-Type": "application/json", "Livepeer-Signature": signature},
                ) as response:
                    await response.read()
                    statuses[response.status] += 1
            except aiohttp.ClientError:
                errors += 1
                return
            latencies.append(time.perf_counter() - due)

        total = int(rate * duration_s)
        start = time.perf_counter() + 0.1
        pending = set()
        for index in range(total):
            due = start + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            signature, body = lines[index % len(lines)]
            task = asyncio.create_task(send(due, signature, body))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)
        elapsed = time.perf_counter() - start
    figures = summary(len(latencies), elapsed, latencies, errors)
    return figures | {"target_per_s": rate, "statuses": {str(k): n for k, n in statuses.items()}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--deliveries", type=Path, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--duration", type=float, required=True)
    args = parser.parse_args()
    lines = []
    with args.deliveries.open("rb") as source:
        for line in source:
            signature, body = line.rstrip(b"\n").split(b"\t", 1)
            lines.append((signature.decode(), body))
    print(orjson.dumps(uvloop.run(run(args.url, lines, args.rate, args.duration))).decode())


if __name__ == "__main__":
    main()
