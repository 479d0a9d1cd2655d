"""A steady trickle of confirmed publishes beside a measurement, to tell the broker's stalls
from a server's.

``python -m tests.bench.broker_probe --queue Q`` publishes one small persistent message every
``--interval-ms`` to the quorum queue ``Q`` (through the default exchange, on taskhook's own
connection) and waits for each confirm, until SIGTERM; then prints one JSON line: how many it
sent and the confirm latency's p50, p99 and max. Every quorum queue on a node writes through
the node's one log, so a stall there shows here as it does to the servers' deliveries.
"""

import argparse
import asyncio
import signal
import time

import orjson
import uvloop

from taskhook.broker.confirmed import confirm_or_fail
from taskhook.broker.connection import connect_amqp
from taskhook.core.message import OutgoingMessage
from tests.bench.stats import summary


async def probe(url: str, queue: str, interval_s: float) -> dict[str, object]:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    connection = await connect_amqp(url, "taskhook-bench-probe", publish_timeout_s=30)
    print("ready", flush=True)
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    while not stop.is_set():
        sent = time.perf_counter()
        message = OutgoingMessage(routing_key=queue, body=b"{}", message_id=str(sent), type="probe")
        try:
            await confirm_or_fail(connection, "", message)
            latencies.append(time.perf_counter() - sent)
        except Exception:
            errors += 1
        # The next one leaves on schedule; a late confirm delays it, as a stall would.
        await asyncio.sleep(max(0.0, interval_s - (time.perf_counter() - sent)))
    await connection.close(5)
    figures = summary(len(latencies), time.perf_counter() - started, latencies, errors)
    return figures | {"max_ms": round(max(latencies, default=0.0) * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--interval-ms", type=float, default=10.0)
    args = parser.parse_args()
    figures = uvloop.run(probe(args.url, args.queue, args.interval_ms / 1000))
    print(orjson.dumps(figures).decode(), flush=True)


if __name__ == "__main__":
    main()
