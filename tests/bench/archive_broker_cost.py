"""What the archive asks of the broker: its CPU per confirmed publish, with and without it.

``python -m tests.bench.archive_broker_cost`` publishes taskhook's messages (as
``tests.bench.broker_ceiling`` does: taskhook's connection, persistent, mandatory, confirmed)
for ``--duration`` seconds per variant, ``--rounds`` rounds each going first in turn, and prints
the broker process's CPU per message (found by the port it listens on: run it on the broker's
machine, under the machine lock). Variants:

- ``queue``: taskhook's topology with the archive off, and one quorum queue bound to ``#``;
- ``archive``: taskhook's topology as shipped (the archive's front: fanout to the stream and the
  events exchange), the same quorum queue behind it;
- ``bound``: the stream bound to the events exchange with ``#`` instead of a front;
- ``queue, no headers`` and ``archive, no headers``: the same messages with no headers, to see
  what the headers cost the broker.
"""

import argparse
import asyncio
import dataclasses
import statistics
import sys
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import cast
from urllib.parse import urlsplit

import aio_pika
from aio_pika.abc import AbstractChannel
from pamqp.common import FieldTable

from taskhook.broker.declare import declare
from taskhook.broker.topology import ArchiveRetention, Topology
from taskhook.settings import DEFAULT_ARCHIVE_MAX_AGE_S, DEFAULT_ARCHIVE_MAX_BYTES
from tests.bench.broker_ceiling import messages, publish_for
from tests.bench.deliveries import write_signed
from tests.bench.run import AMQP_URL, rotated
from tests.bench.stats import cpu_seconds, listening_pid

VARIANTS = ("queue", "archive", "bound", "queue, no headers", "archive, no headers")


RETENTION = ArchiveRetention(DEFAULT_ARCHIVE_MAX_AGE_S, DEFAULT_ARCHIVE_MAX_BYTES)


async def declared(channel: AbstractChannel, variant: str) -> tuple[str, str]:
    """A fresh exchange named for the run, declared as ``taskhook serve`` declares it (with or
    without the archive), a quorum queue bound to ``#`` as a consumer's would be; the name, and
    where to publish."""
    name = f"bench-archive.{uuid.uuid4().hex[:8]}"
    topology = Topology(name, archive=RETENTION if variant.startswith("archive") else None)
    await declare(channel, topology.declarations())
    queue = await channel.declare_queue(
        f"{name}.all", durable=True, arguments={"x-queue-type": "quorum"}
    )
    await queue.bind(name, "#")
    if variant == "bound":  # the layout not shipped: the stream bound to the events exchange
        arguments = cast(FieldTable, RETENTION.arguments())
        stream = await channel.declare_queue(f"{name}.archive", durable=True, arguments=arguments)
        await stream.bind(name, "#")
    return name, topology.publish_exchange


async def removed(channel: AbstractChannel, name: str) -> None:
    """Everything ``declared`` may have made for ``name``."""
    everything = Topology(name, archive=RETENTION).declarations()
    for queue in (f"{name}.all", *(spec.name for spec in everything.queues)):
        await channel.queue_delete(queue)
    for spec in everything.exchanges:
        await channel.exchange_delete(spec.name)


async def measure(args: argparse.Namespace, broker_pid: int) -> dict[str, list[float]]:
    with TemporaryDirectory() as scratch:
        deliveries = Path(scratch) / "deliveries.txt"
        write_signed(deliveries, 20_000, b"bench-secret")
        batch = messages(deliveries, 20_000)
    bare = [dataclasses.replace(message, headers={}) for message in batch]
    connection = await aio_pika.connect(AMQP_URL)
    costs: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    async with connection:
        channel = await connection.channel()
        for turn in range(args.rounds):
            for variant in rotated(list(VARIANTS), turn):
                name, target = await declared(channel, variant)
                try:
                    before = cpu_seconds(broker_pid)
                    figures = await publish_for(
                        AMQP_URL,
                        target,
                        bare if variant.endswith("no headers") else batch,
                        args.concurrency,
                        args.duration,
                    )
                    count = max(int(str(figures["count"])), 1)
                    costs[variant].append((cpu_seconds(broker_pid) - before) / count * 1e6)
                finally:
                    await removed(channel, name)
                await asyncio.sleep(2)  # the deletions' work, before the next measurement
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=5, help="5: each variant first once")
    args = parser.parse_args()
    broker_pid = listening_pid(urlsplit(AMQP_URL).port or 5672)
    if broker_pid is None:
        sys.exit("archive_broker_cost: no broker process listening here; run it on its machine")
    costs = asyncio.run(measure(args, broker_pid))
    print(f"broker CPU µs per confirmed publish, {args.concurrency} in flight, median (all):")
    for variant, values in costs.items():
        every = ", ".join(f"{value:.0f}" for value in values)
        print(f"  {variant:<20} {statistics.median(values):5.0f}  ({every})")


if __name__ == "__main__":
    main()
