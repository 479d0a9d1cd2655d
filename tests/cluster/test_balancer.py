"""Three replicas behind HAProxy (docker/haproxy.cfg, as shipped). Restarted one by one under
steady signed load: nothing answered 2xx is lost, nothing gets a 4xx, and with the drain delay
a SIGTERM rollout costs the sender nothing. Under a retry storm: how many copies of each event
are published, with each replica's own memory and with the memory shared in Redis. Run with
``make cluster-test``."""

import asyncio
import os
import shutil
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio

from taskhook.replicas.redis import key_prefix
from tests.faults import harness
from tests.support import cluster
from tests.support.accounting import CountingQueue, assert_nothing_lost, tally
from tests.support.deliveries import signed
from tests.support.loadgen import fresh_delivery
from tests.support.processes import free_port, kill_all

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]

CONFIG = Path(__file__).resolve().parents[2] / "docker" / "haproxy.cfg"
RATE = 40.0
SETTLE_S = 4.0  # between restarts: the balancer's checks put the new replica back
# SIGTERM: /readyz turns 503 at once and requests are still served this long, so the balancer's
# checks (2 x 0.5 s) take the replica out before it stops listening.
DRAIN_DELAY_S = "2"
MAX_LATENCY_S = 5.0
STORM_EVENTS = 300


@pytest.fixture
async def haproxy(tmp_path: Path) -> AsyncIterator[tuple[str, list[int]]]:
    """HAProxy on a port of its own, for three replica ports; its URL and those ports."""
    binary = shutil.which("haproxy")
    if binary is None:
        message = "haproxy is not installed (apt-get install haproxy): the balancer tests need it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    listen, ports = free_port(), [free_port() for _ in range(3)]
    env = {
        **os.environ,
        "TASKHOOK_LISTEN": f"127.0.0.1:{listen}",
        **{f"TASKHOOK_{n}": f"127.0.0.1:{port}" for n, port in enumerate(ports, start=1)},
    }
    with (tmp_path / "haproxy.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            binary, "-db", "-f", str(CONFIG), env=env, stdout=log, stderr=log
        )
    yield f"http://127.0.0.1:{listen}", ports
    process.terminate()
    await process.wait()


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
async def test_a_rolling_restart_behind_the_balancer_loses_nothing(
    nodes: list[cluster.Node],
    cluster_counted: CountingQueue,
    haproxy: tuple[str, list[int]],
    exchange: str,
    tmp_path: Path,
    how: str,
) -> None:
    base_url, ports = haproxy
    urls = cluster.urls()

    async def replica(port: int) -> harness.ServiceProcess:
        return await harness.start_service_on(
            port,
            exchange,
            tmp_path,
            TASKHOOK_AMQP_URL=urls,
            TASKHOOK_DRAIN_DELAY_S=DRAIN_DELAY_S,
        )

    replicas = [await replica(port) for port in ports]
    await asyncio.sleep(SETTLE_S)  # the balancer has seen them all healthy
    duration = SETTLE_S * (len(ports) * 2 + 2)
    stream = await harness.Stream.start(
        f"{base_url}/webhooks/livepeer", tmp_path / "answers.jsonl", rate=RATE, duration_s=duration
    )
    try:
        await asyncio.sleep(SETTLE_S)
        for number, port in enumerate(ports):
            old = replicas[number]
            if how == "SIGTERM":
                old.process.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(old.process.wait(), 30) == 0
            else:
                await kill_all(old.process)
            replicas[number] = await replica(port)
            await asyncio.sleep(SETTLE_S)
        answers = await stream.finish(timeout_s=duration + 60)
    finally:
        for running in replicas:
            await harness.stop_service(running)

    result = tally(answers, await cluster_counted.message_ids())
    print(f"\n[rolling restart, {how}] {result}")
    assert_nothing_lost(result, answers, max_latency_s=MAX_LATENCY_S)
    if how == "SIGTERM":  # drained: the sender saw no error at all
        assert (result.failed, result.unanswered) == (0, 0)


@pytest.mark.parametrize("shared", [False, True], ids=["own-memory", "redis"])
async def test_a_retry_storm_through_the_balancer_publishes_each_event_once_with_shared_dedup(
    nodes: list[cluster.Node],
    cluster_counted: CountingQueue,
    haproxy: tuple[str, list[int]],
    exchange: str,
    tmp_path: Path,
    shared: bool,
) -> None:
    """Each event sent three times at once (Livepeer's retries after answers it did not get,
    spread over the replicas by the balancer): how many copies reach the queue."""
    base_url, ports = haproxy
    redis_url = os.environ.get("TASKHOOK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    extra = {"TASKHOOK_DEDUP_REDIS_URL": redis_url} if shared else {}
    replicas = [
        await harness.start_service_on(
            port, exchange, tmp_path, TASKHOOK_AMQP_URL=cluster.urls(), **extra
        )
        for port in ports
    ]
    await asyncio.sleep(SETTLE_S)
    events = [fresh_delivery(number) for number in range(STORM_EVENTS)]
    statuses: list[int] = []
    try:
        async with aiohttp.ClientSession() as http:
            for document in events:
                body, headers = signed(document)
                answers = await asyncio.gather(
                    *(post(http, f"{base_url}/webhooks/livepeer", body, headers) for _ in range(3))
                )
                statuses += answers
    finally:
        for running in replicas:
            await harness.stop_service(running)
        if shared:  # Redis would remember these ids for 25 h
            client = redis.asyncio.Redis.from_url(redis_url)
            async with client:
                await client.delete(
                    *(f"{key_prefix(exchange)}{d['webhookId']} {d['id']}" for d in events)
                )

    copies = await cluster_counted.message_ids()
    published = sum(copies.values())
    print(
        f"\n[retry storm, {'shared Redis memory' if shared else 'own memory per replica'}] "
        f"events={len(events)} sent={len(statuses)} answers={dict(Counter(statuses))} "
        f"copies={published} ({published / len(events):.2f} per event)"
    )
    assert set(copies) == {document["id"] for document in events}  # every event, at least once
    assert all(status in (200, 202) for status in statuses)
    if shared:
        assert published == len(events)


async def post(http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> int:
    async with http.post(url, data=body, headers=headers) as response:
        await response.read()
        return response.status
