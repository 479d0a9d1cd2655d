"""Losing the broker node a process is connected to costs a reconnect, not a delivery.

Under steady signed load, the node the ingest is connected to is stopped, then brought back;
then the one the tasks consumer is connected to. Counted per event id: every delivery answered
2xx is in the quorum queue afterwards, and in the archive stream (replicated on the three nodes),
none got a 4xx, none went unanswered past its timeout, and the tasks consumer applied every one
of them. Run with ``make cluster-test``.
"""

import asyncio
import contextlib
import itertools
import re
import signal
import sqlite3
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from taskhook.bootstrap import consumer_topology
from taskhook.broker.connection import connect
from taskhook.clock import now_ms
from taskhook.history.archive import ArchiveReader
from taskhook.settings import ConsumerSettings
from taskhook.tasks.consumer import tasks
from tests.faults import harness
from tests.support import cluster
from tests.support.accounting import CountingQueue, assert_nothing_lost, tally
from tests.support.archive import archived
from tests.support.consumers import delete_queues
from tests.support.loadgen import Answer
from tests.support.processes import START_TIMEOUT_S, clean_environment, free_port, kill_all

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]

RATE = 40.0  # deliveries a second: steady, well inside one process's capacity
DURATION_S = 75.0
WARM_UP_S = 8.0
DOWN_S = 12.0
# Reconnecting takes a connect timeout per dead node tried and the declarations: seconds.
MAX_LATENCY_S = 10.0
CONNECTION = re.compile(r"-> [\d.]+:(\d+)\t.*\{\"connection_name\",\"([^\"]+)\"\}")


@pytest.mark.archive  # what it proves includes "a 2xx is in the archive", on a cluster
async def test_losing_the_node_each_process_uses_loses_no_accepted_delivery(
    nodes: list[cluster.Node], cluster_counted: CountingQueue, exchange: str, tmp_path: Path
) -> None:
    urls = cluster.urls()
    service = await harness.start_service(exchange, tmp_path, TASKHOOK_AMQP_URL=urls)
    database = tmp_path / "tasks.sqlite3"
    consumer_port = free_port()
    consumer_url = f"http://127.0.0.1:{consumer_port}"
    env = clean_environment(
        TASKHOOK_AMQP_URL=urls,
        TASKHOOK_EXCHANGE=exchange,
        TASKHOOK_DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        TASKHOOK_CONSUMER_HOST="127.0.0.1",
        TASKHOOK_CONSUMER_PORT=str(consumer_port),
    )
    with (tmp_path / "consume.log").open("wb") as log:  # a pipe nobody reads would fill up
        consumer = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "taskhook",
            "consume",
            "tasks",
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    await wait_ready(consumer_url, consumer)  # bound before the first delivery
    started_ms = now_ms()
    stream = await harness.Stream.start(
        service.webhook_url, tmp_path / "answers.jsonl", rate=RATE, duration_s=DURATION_S
    )
    outages: dict[str, float] = {}
    try:
        await asyncio.sleep(WARM_UP_S)
        for who in ("taskhook", "taskhook.tasks"):  # the ingest's connection, the consumer's
            node = await node_of(who, nodes)
            outages[f"{who} on {node.name}"] = time.monotonic()
            await asyncio.to_thread(cluster.stop_node, node)
            await asyncio.sleep(DOWN_S)
            await asyncio.to_thread(cluster.start_node, node)
            await asyncio.sleep(WARM_UP_S)
        answers = await stream.finish(timeout_s=DURATION_S + 60)
        await wait_for_inbox(database, accepted_ids(answers))
        archived = await archived_ids(urls, exchange, started_ms)
    finally:
        consumer.send_signal(signal.SIGTERM)
        await asyncio.wait_for(consumer.wait(), 30)
        await kill_all(consumer)
        await harness.stop_service(service)
        await delete_consumer_queues(urls, exchange)

    result = tally(answers, await cluster_counted.message_ids())
    gaps = longest_gaps(answers)
    print(f"\n[cluster node loss] {result}; longest gaps between 2xx: {gaps}; stops: {outages}")
    assert_nothing_lost(result, answers, max_latency_s=MAX_LATENCY_S)
    assert result.unanswered == 0, "every delivery gets an answer, even mid-failover"
    assert accepted_ids(answers) <= inbox_ids(database), "the consumer missed an event"
    assert accepted_ids(answers) <= archived, "the archive lost an accepted event"
    service.assert_logs_clean()


async def node_of(connection_name: str, nodes: list[cluster.Node]) -> cluster.Node:
    """The node whose AMQP port the named connection is on."""
    async with asyncio.timeout(30):
        while True:
            listed = await asyncio.to_thread(
                cluster.ctl,
                nodes[0] if await asyncio.to_thread(cluster.answers, nodes[0]) else nodes[1],
                "list_connections",
                "name",
                "client_properties",
                "--no-table-headers",
                "--quiet",
            )
            for port, name in CONNECTION.findall(listed):
                if name == connection_name:
                    return next(node for node in nodes if node.port == int(port))
            await asyncio.sleep(0.5)


async def wait_ready(base_url: str, process: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as http, asyncio.timeout(START_TIMEOUT_S):
        while True:
            assert process.returncode is None, "the consumer exited"
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{base_url}/readyz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)


async def delete_consumer_queues(urls: str, exchange: str) -> None:
    """The tasks consumer's queues are named for the consumer, not the test: remove them."""
    settings = ConsumerSettings(amqp_url=urls, exchange=exchange)
    connection = await connect(urls, "taskhook-test-cleanup")
    async with connection:
        channel = await connection.channel()
        await delete_queues(channel, consumer_topology(tasks, settings))


async def archived_ids(urls: str, exchange: str, since_ms: int) -> set[str]:
    """The message ids the archive stream holds from ``since_ms``, read after the losses."""
    connection = await connect(urls, "taskhook-test-archive")
    async with connection:
        reader = ArchiveReader(await connection.channel(), archived(exchange))
        return {
            each.message.message_id or ""
            async for each in reader.read(since_ms, now_ms() + 1, idle_s=2.0)
        }


def accepted_ids(answers: list[Answer]) -> set[str]:
    return {a.id for a in answers if a.status is not None and 200 <= a.status < 300}


def inbox_ids(database: Path) -> set[str]:
    with sqlite3.connect(database) as db:
        return {row[0] for row in db.execute("SELECT message_id FROM inbox")}


async def wait_for_inbox(database: Path, wanted: set[str], timeout_s: float = 60.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not wanted <= inbox_ids(database):
            await asyncio.sleep(0.5)


def longest_gaps(answers: list[Answer], count: int = 2) -> list[float]:
    """The longest stretches, in seconds, with no 2xx answer completing: the outages seen."""
    done = sorted(
        a.sent_at_s + a.latency_s for a in answers if a.status is not None and a.status < 300
    )
    gaps = sorted((b - a for a, b in itertools.pairwise(done)), reverse=True)
    return [round(gap, 2) for gap in gaps[:count]]
