"""The broker ceiling: one process publishing taskhook's bodies, persistent, with confirms.

Publishes exactly as taskhook's publisher does (aiormq, mandatory, confirm awaited) with
``--concurrency`` publishes in flight, to an exchange with a quorum queue bound, for
``--duration`` seconds; prints one JSON line of figures.
"""

import argparse
import asyncio
import itertools
import time
from pathlib import Path

import orjson
import uvloop

from taskhook.broker.confirmed import confirm_or_fail
from taskhook.broker.connection import connect_amqp
from taskhook.core.delivery import parse_body, validate_delivery
from taskhook.core.message import OutgoingMessage, event_message
from tests.bench.stats import peak_rss_kib, summary


def messages(deliveries: Path, count: int) -> list[OutgoingMessage]:
    with deliveries.open("rb") as lines:
        bodies = [line.rstrip(b"\n").split(b"\t", 1)[1] for line in itertools.islice(lines, count)]
    return [event_message(validate_delivery(parse_body(body))) for body in bodies]


async def publish_for(
    url: str, exchange: str, batch: list[OutgoingMessage], concurrency: int, duration_s: float
) -> dict[str, object]:
    connection = await connect_amqp(url, "taskhook-bench", publish_timeout_s=30)
    latencies: list[float] = []
    errors = 0
    source = itertools.cycle(batch)
    deadline = time.perf_counter() + duration_s

    async def publisher() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            message = next(source)
            started = time.perf_counter()
            try:
                await confirm_or_fail(connection, exchange, message)
            except Exception:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(publisher() for _ in range(concurrency)))
    elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    await connection.close(5)
    return summary(len(latencies), elapsed, latencies, errors) | {
        "peak_rss_kib": peak_rss_kib(),
        "cpu_us_per_message": round(cpu_s / max(len(latencies), 1) * 1e6),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--exchange", required=True)
    parser.add_argument("--deliveries", type=Path, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    args = parser.parse_args()
    batch = messages(args.deliveries, 20_000)
    figures = uvloop.run(
        publish_for(args.url, args.exchange, batch, args.concurrency, args.duration)
    )
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    main()
