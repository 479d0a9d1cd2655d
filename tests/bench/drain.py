"""How fast one consumer process drains a queue filled in advance: the tasks consumer on SQLite
and on PostgreSQL, and the toolkit alone (a handler that does nothing).

The queue is filled before the consumer starts, with whole task lives of every type (one in ten
failing), so the figure is the consumer's own pace, not the ingest's. It is timed from when the
consumer answers ``/readyz`` until its ``/metrics`` count every message settled.
"""

import asyncio
import itertools
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import aio_pika
import orjson

from taskhook.bootstrap import consumer_topology
from taskhook.broker.confirmed import confirm_or_fail
from taskhook.broker.connection import connect_amqp
from taskhook.broker.declare import declare_on
from taskhook.consumers.consumer import Consumer
from taskhook.core.message import OutgoingMessage
from taskhook.settings import ConsumerSettings
from taskhook.tasks.consumer import tasks
from tests.bench.stats import cpu_seconds, wait_for
from tests.support.lifecycle import failed_life, task_life

TYPES = ("upload", "export", "export-data", "transcode-file", "clip")
SETTLED = re.compile(r"^taskhook_consumer_messages_total\{[^}]*\} ([0-9.e+]+)$", re.MULTILINE)
FILL_IN_FLIGHT = 64
PORT = 18094


def lives() -> Iterator[dict[str, Any]]:
    """Task events in the order Livepeer emits them, life after life; every tenth life fails."""
    for number in itertools.count():
        task_type = TYPES[number % len(TYPES)]
        yield from failed_life(task_type) if number % 10 == 9 else task_life(task_type)


async def fill(url: str, consumer: Consumer[Any], exchange: str, count: int) -> str:
    """Declare ``consumer``'s queues on ``exchange`` and publish ``count`` events; its queue."""
    topology = consumer_topology(consumer, ConsumerSettings(amqp_url=url, exchange=exchange))
    publishing = await connect_amqp(url, "taskhook-bench", publish_timeout_s=30)
    try:
        await declare_on(publishing, topology.declarations())
        events = itertools.islice(lives(), count)
        slots = asyncio.Semaphore(FILL_IN_FLIGHT)

        async def publish(body: dict[str, Any]) -> None:
            async with slots:
                message = OutgoingMessage(
                    routing_key=f"{body['event']}.{body['task']['type']}",
                    body=orjson.dumps(body),
                    message_id=body["id"],
                    type=body["event"],
                )
                await confirm_or_fail(publishing, exchange, message)

        await asyncio.gather(*(publish(body) for body in events))
    finally:
        await publishing.close(5)
    return topology.queue


def drain(command: list[str], environment: dict[str, str], count: int) -> dict[str, Any]:
    """Run the consumer until it has settled ``count`` messages; its pace."""
    process = subprocess.Popen(  # our own command
        command,
        env={**os.environ, **environment, "TASKHOOK_CONSUMER_PORT": str(PORT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(PORT, "/readyz", timeout_s=30)
        started, cpu_started = time.perf_counter(), cpu_seconds(process.pid)
        while (settled := _settled()) < count:
            if process.poll() is not None:
                raise RuntimeError(f"the consumer exited ({process.returncode})")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(process.pid) - cpu_started
    finally:
        process.terminate()
        process.wait(30)
    return {
        "count": settled,
        "seconds": round(elapsed, 2),
        "per_s": round(settled / elapsed, 1),
        "cpu_us_per_message": round(cpu / settled * 1e6),
    }


def _settled() -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics", timeout=2) as answer:
        page = answer.read().decode()
    return int(sum(float(value) for value in SETTLED.findall(page)))


async def delete(url: str, exchange: str, consumer: Consumer[Any]) -> None:
    """Remove the queues and exchanges one drain declared."""
    topology = consumer_topology(consumer, ConsumerSettings(amqp_url=url, exchange=exchange))
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        declared = topology.declarations()
        for queue in declared.queues:
            await channel.queue_delete(queue.name)
        for exchange_spec in declared.exchanges:
            await channel.exchange_delete(exchange_spec.name)


def consume_command(reference: str) -> list[str]:
    return [sys.executable, "-m", "taskhook", "consume", reference]


def private_exchange() -> str:
    return f"bench-drain.{uuid.uuid4().hex[:8]}"


async def drain_all(url: str, count: int) -> dict[str, Any]:
    """``count`` events drained by each of: the tasks consumer on SQLite and on PostgreSQL, and
    the toolkit alone, one by one and in batches. Default settings throughout."""
    from tests.bench.noop_consumer import noop, noop_batches
    from tests.support.databases import fresh_postgres_database

    with tempfile.TemporaryDirectory() as scratch:
        sqlite = f"sqlite+aiosqlite:///{scratch}/tasks.sqlite3"
        figures = {
            "count": count,
            "tasks + event index (SQLite)": await _drained(url, tasks, "tasks", count, sqlite),
        }
    async with fresh_postgres_database() as postgres:
        figures["tasks + event index (PostgreSQL)"] = await _drained(
            url, tasks, "tasks", count, postgres
        )
    for name, consumer in (
        ("toolkit alone, one by one", noop),
        ("toolkit alone, in batches", noop_batches),
    ):
        reference = f"tests.bench.noop_consumer:{'noop' if consumer is noop else 'noop_batches'}"
        figures[name] = await _drained(url, consumer, reference, count, "")
    return figures


async def _drained(
    url: str, consumer: Consumer[Any], reference: str, count: int, database_url: str
) -> dict[str, Any]:
    exchange = private_exchange()
    environment = {"TASKHOOK_AMQP_URL": url, "TASKHOOK_EXCHANGE": exchange}
    if database_url:
        environment["TASKHOOK_DATABASE_URL"] = database_url
    try:
        await fill(url, consumer, exchange, count)
        return await asyncio.to_thread(drain, consume_command(reference), environment, count)
    finally:
        await delete(url, exchange, consumer)
