"""The real process, as ``taskhook serve`` runs it: start-up checks and shutdown on SIGTERM."""

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import orjson
import pytest
from aio_pika.abc import AbstractChannel

from taskhook.broker.topology import Topology
from tests.support.broker import bind_queue, take, through
from tests.support.deliveries import SAMPLES_DIR, SECRET, load_sample, signed
from tests.support.processes import (
    START_TIMEOUT_S,
    Running,
    environment,
    free_port,
    kill_all,
    logged,
    run,
)
from tests.support.proxy import TcpProxy


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


Start = Callable[..., Awaitable[Running]]


@pytest.fixture
async def start(http: aiohttp.ClientSession) -> AsyncIterator[Start]:
    """Start ``taskhook serve`` and wait until ready; kills what a failed test left running."""
    started: list[asyncio.subprocess.Process] = []

    async def start_serving(env: dict[str, str], *options: str) -> Running:
        process = await run("serve", *options, env=env)
        started.append(process)
        running = Running(process, f"http://127.0.0.1:{env['TASKHOOK_PORT']}", http)
        await running.wait_ready()
        return running

    yield start_serving
    for process in started:
        await kill_all(process)


async def test_sigterm_turns_readiness_off_drains_and_exits_0(
    http: aiohttp.ClientSession, start: Start, exchange: str
) -> None:
    env = environment(exchange, free_port(), TASKHOOK_DRAIN_DELAY_S="3")
    running = await start(env)

    running.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(3):  # still serving, but telling the balancer to go
        while await running.ready_status() != 503:
            await asyncio.sleep(0.05)
    body, headers = signed(load_sample("task.spawned.upload.json"))
    async with http.post(f"{running.base_url}/webhooks/livepeer", data=body, headers=headers) as r:
        assert r.status == 202  # deliveries that still arrive while draining are kept

    assert await asyncio.wait_for(running.process.wait(), 10) == 0
    messages = [line["message"] for line in await running.output()]
    assert messages.index("draining") < messages.index("stopped")


async def test_a_publish_in_flight_at_sigterm_is_confirmed_before_exit(
    http: aiohttp.ClientSession,
    start: Start,
    exchange: str,
    proxy: TcpProxy,
    channel: AbstractChannel,
) -> None:
    env = environment(exchange, free_port(), TASKHOOK_AMQP_URL=through(proxy))
    running = await start(env)
    proxy.pause()
    body, headers = signed(load_sample("task.spawned.upload.json"))
    in_flight = asyncio.create_task(
        http.post(f"{running.base_url}/webhooks/livepeer", data=body, headers=headers)
    )
    async with asyncio.timeout(5):
        while "taskhook_publishes_in_flight 1.0" not in await running.metrics():
            await asyncio.sleep(0.05)

    running.process.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.3)
    proxy.resume()

    response = await in_flight
    assert response.status == 202
    assert await asyncio.wait_for(running.process.wait(), 10) == 0
    unrouted = await channel.get_queue(Topology(exchange).unrouted_queue, ensure=True)
    assert (await take(unrouted)).routing_key == "task.spawned.upload"


async def test_the_readme_flow_a_sent_sample_reaches_a_bound_queue(
    http: aiohttp.ClientSession, start: Start, exchange: str, channel: AbstractChannel
) -> None:
    env = environment(exchange, free_port())
    running = await start(env)
    queue = await bind_queue(channel, exchange, "task.#")
    sample = SAMPLES_DIR / "task.completed.upload.json"

    sender = await run(
        "send", str(sample), "--url", f"{running.base_url}/webhooks/livepeer", env=env
    )
    stdout, _ = await asyncio.wait_for(sender.communicate(), START_TIMEOUT_S)

    assert sender.returncode == 0
    assert stdout.decode().startswith('202 task.completed {"status":"accepted"')
    message = await take(queue)
    assert message.routing_key == "task.completed.upload"
    assert message.message_id == load_sample("task.completed.upload.json")["id"]
    running.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(running.process.wait(), 10) == 0


@pytest.mark.parametrize(
    ("extra", "variable"),
    [
        ({"TASKHOOK_PORT": "http"}, "TASKHOOK_PORT"),
        ({"TASKHOOK_PUBLISH_TIMEOUT_S": "-1"}, "TASKHOOK_PUBLISH_TIMEOUT_S"),
        ({"TASKHOOK_WEBHOOK_SECRETS": ""}, "TASKHOOK_WEBHOOK_SECRETS"),
    ],
)
async def test_a_bad_configuration_stops_start_up_with_one_line_naming_it(
    extra: dict[str, str], variable: str
) -> None:
    process = await run("serve", env=environment("unused", free_port(), **extra))
    stdout, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT_S)
    assert process.returncode == 2
    lines = stderr.decode().splitlines()
    assert len(lines) == 1
    assert variable in lines[0]
    assert SECRET not in lines[0]
    assert stdout == b""


async def test_workers_share_the_port_and_all_drain_on_sigterm(
    http: aiohttp.ClientSession, start: Start, exchange: str, channel: AbstractChannel
) -> None:
    running = await start(environment(exchange, free_port()), "--workers", "2")
    queue = await bind_queue(channel, exchange, "#")
    workers = Path(f"/proc/{running.process.pid}/task/{running.process.pid}/children")
    assert len((await asyncio.to_thread(workers.read_text)).split()) == 2
    # Ready means one worker is; the other may still be starting.
    early = await logged(running.process, {"listening": 2, "broker connected": 2})

    sent = []
    for _ in range(20):  # new connections each time: the kernel spreads them over the workers
        body, headers = signed(load_sample("task.spawned.upload.json") | {"id": str(uuid.uuid4())})
        async with (
            aiohttp.ClientSession() as fresh,
            fresh.post(
                f"{running.base_url}/webhooks/livepeer", data=body, headers=headers
            ) as response,
        ):
            assert response.status == 202
        sent.append(orjson.loads(body)["id"])
    received = [str((await take(queue)).message_id) for _ in sent]
    assert sorted(received) == sorted(sent)

    running.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(running.process.wait(), 15) == 0
    lines = early + await running.output()
    assert [line["message"] for line in lines].count("stopped") == 2


async def test_workers_stopped_as_soon_as_one_listens_exit_0(exchange: str) -> None:
    process = await run("serve", "--workers", "2", env=environment(exchange, free_port()))
    try:
        await logged(process, {"listening": 1})
        # The other worker may still be starting, with no handler yet: SIGTERM ends it at once,
        # before it listens. That is a stop as asked, not a failure.
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        await kill_all(process)


async def test_workers_exit_when_their_parent_is_killed_outright(
    start: Start, exchange: str
) -> None:
    running = await start(environment(exchange, free_port()), "--workers", "2")

    os.kill(running.process.pid, signal.SIGKILL)  # the parent only, as the OOM killer would

    # The workers hold the parent's stdout: it closes, and wait() returns, once both are gone.
    assert await asyncio.wait_for(running.process.wait(), 15) == -signal.SIGKILL
    with pytest.raises(aiohttp.ClientConnectionError):
        await running.ready_status()


async def test_a_bad_configuration_with_workers_is_said_once() -> None:
    env = environment("unused", free_port(), TASKHOOK_PORT="http")
    process = await run("serve", "--workers", "3", env=env)
    _, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT_S)
    assert process.returncode == 2
    assert len(stderr.decode().splitlines()) == 1
