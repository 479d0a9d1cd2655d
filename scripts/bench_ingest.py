"""Measure what a delivery costs, on this machine, in one run: ``make bench``.

Prints figures rather than asserting them: shared machines are noisy, so compare the ratios
within one run (how much of a delivery's time is our own checking, how concurrency scales),
not absolute numbers across runs. Talks only to 127.0.0.1, and stops by itself.
"""

import argparse
import asyncio
import os
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
import orjson
from aiohttp import web

from service.broker.publisher import AmqpPublisher
from service.broker.topology import Topology
from service.core.delivery import check_signed_timestamp, parse_body, validate_delivery
from service.core.message import event_message
from service.core.signature import sign, verify_signature
from service.http.app import WEBHOOK_PATH, create_app
from service.ingest import now_ms
from service.metrics import Metrics
from service.settings import Settings

SAMPLE = Path(__file__).resolve().parents[2] / "shared/livepeer/samples/task.completed.upload.json"
SECRET = "bench-secret"
AMQP_URL = os.environ.get("TASKHOOK_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def signed_delivery(template: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    now = now_ms()
    body = orjson.dumps({**template, "id": str(uuid.uuid4()), "timestamp": now})
    return body, {
        "Content-Type": "application/json",
        "Livepeer-Signature": sign(body, SECRET.encode(), now),
    }


def bench_core(template: dict[str, Any], iterations: int) -> float:
    """Seconds per delivery for everything the endpoint does besides HTTP and the broker."""
    body, headers = signed_delivery(template)
    signature = headers["Livepeer-Signature"]
    started = time.perf_counter()
    for _ in range(iterations):
        now = now_ms()
        signed_at = verify_signature(
            signature, body, secrets=[SECRET.encode()], now_ms=now, tolerance_ms=300_000
        )
        document = parse_body(body)
        check_signed_timestamp(document, signed_at)
        event_message(validate_delivery(document))
    return (time.perf_counter() - started) / iterations


async def bench_endpoint(
    url: str, template: dict[str, Any], total: int, concurrency: int
) -> tuple[float, list[float]]:
    """Deliveries per second and each delivery's latency, all answered 202 after a confirm."""
    latencies: list[float] = []
    queue: asyncio.Queue[tuple[bytes, dict[str, str]]] = asyncio.Queue()
    for _ in range(total):
        queue.put_nowait(signed_delivery(template))

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            body, headers = queue.get_nowait()
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                if response.status != 202:
                    raise RuntimeError(f"answered {response.status}: {await response.text()}")
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return total / elapsed, latencies


async def run_endpoint_benchmarks(template: dict[str, Any], total: int) -> dict[int, Any]:
    exchange = f"taskhook-bench.{uuid.uuid4().hex[:8]}"
    settings = Settings(
        amqp_url=AMQP_URL,
        exchange=exchange,
        webhook_secrets=SECRET,
        dedup_capacity=total * 3,
        max_in_flight=1024,
    )
    metrics = Metrics.create()
    publisher = AmqpPublisher.from_settings(settings, metrics)
    runner = web.AppRunner(create_app(settings, publisher, metrics), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with asyncio.timeout(15):
            while not publisher.ready:
                await asyncio.sleep(0.05)
        url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
        await bench_endpoint(url, template, 100, 8)  # warm up connections and caches
        return {c: await bench_endpoint(url, template, total, c) for c in (1, 8, 32)}
    finally:
        await runner.cleanup()
        await remove_topology(Topology(exchange))


async def remove_topology(topology: Topology) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        for queue in (topology.unrouted_queue, topology.rejected_queue):
            await channel.queue_delete(queue)
        for name in (topology.exchange, topology.unrouted_exchange):
            await channel.exchange_delete(name)


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deliveries", type=int, default=2000, help="per concurrency level")
    parser.add_argument("--core-iterations", type=int, default=5000)
    args = parser.parse_args()
    template = orjson.loads(SAMPLE.read_bytes())

    core = bench_core(template, args.core_iterations)
    print(f"core (verify + parse + validate + build message): {core * 1e6:.1f} us per delivery")

    results = asyncio.run(run_endpoint_benchmarks(template, args.deliveries))
    base_rate = results[1][0]
    for concurrency, (rate, latencies) in results.items():
        cut = statistics.quantiles(latencies, n=100)
        print(
            f"endpoint, {concurrency:>2} concurrent: {rate:7.0f} deliveries/s "
            f"(x{rate / base_rate:.1f} of 1 concurrent), p50 {milliseconds(cut[49])}, "
            f"p99 {milliseconds(cut[98])}"
        )
    one_at_a_time = statistics.median(results[1][1])
    print(f"core share of a delivery answered alone: {core / one_at_a_time:.1%}")


if __name__ == "__main__":
    main()
