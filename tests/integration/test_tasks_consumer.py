"""The ``tasks`` consumer end to end: real broker, real database, its HTTP read side, crashes."""

import asyncio
import random
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aio_pika.abc import AbstractChannel
from sqlalchemy import func, select

from taskhook.bootstrap import consumer_topology
from taskhook.settings import ConsumerSettings
from taskhook.tasks.consumer import tasks
from taskhook.tasks.store import TaskStore
from taskhook.tasks.tables import inbox
from tests.conftest import ConsumerFactory
from tests.support import owned
from tests.support.consumers import publish, renamed
from tests.support.lifecycle import EXPECTED_OUTPUTS, failed_life, task_life
from tests.support.processes import (
    START_TIMEOUT_S,
    Running,
    clean_environment,
    free_port,
    kill_all,
    run,
)

WAIT_S = 15.0


async def wait_for_task(
    running: Any, task_id: str, phase: str, timeout_s: float = WAIT_S
) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        while True:
            status, body = await running.get(f"/tasks/{task_id}")
            if status == 200 and body["phase"] == phase:
                return dict(body)
            await asyncio.sleep(0.05)


async def test_a_shuffled_duplicated_life_ends_right_and_is_served_over_http(
    start_consumer: ConsumerFactory,
    consumer_name: str,
    channel: AbstractChannel,
    exchange: str,
    database_url: str,
) -> None:
    running = await start_consumer(renamed(tasks, consumer_name), database_url=database_url)
    life, failed = task_life("export"), failed_life("upload")
    deliveries = life + life[2:5] + failed + failed[:2]  # some delivered twice
    random.Random(7).shuffle(deliveries)
    for body in deliveries:
        await publish(channel, exchange, body)

    task_id = life[0]["task"]["id"]
    shown = await wait_for_task(running, task_id, "completed")
    await wait_for_task(running, failed[0]["task"]["id"], "failed")
    async with asyncio.timeout(WAIT_S):  # every message handled, duplicates included
        while await running.count("handled") < len(deliveries):
            await asyncio.sleep(0.05)

    assert shown["output"] == EXPECTED_OUTPUTS["export"]
    assert shown["updatedAt"] == life[-1]["task"]["status"]["updatedAt"]
    status, listed = await running.get("/tasks?phase=completed&phase=failed&limit=10")
    assert status == 200
    assert [task["phase"] for task in listed["tasks"]] == ["completed", "failed"]
    assert await running.count("dead-lettered") == 0


@pytest.mark.parametrize(
    ("path", "status", "problem"),
    [
        ("/tasks?phase=finished", 400, "urn:taskhook:problem:invalid-query"),
        ("/tasks?limit=100000", 400, "urn:taskhook:problem:invalid-query"),
        ("/tasks/no-such-task", 404, "urn:taskhook:problem:not-found"),
        ("/assets?phase=finished", 400, "urn:taskhook:problem:invalid-query"),
        ("/assets?playbackId=", 400, "urn:taskhook:problem:invalid-query"),
        ("/assets/no-such-asset", 404, "urn:taskhook:problem:not-found"),
        ("/nowhere", 404, "urn:taskhook:problem:not-found"),
    ],
)
async def test_bad_reads_get_a_problem_answer(
    start_consumer: ConsumerFactory, consumer_name: str, path: str, status: int, problem: str
) -> None:
    running = await start_consumer(renamed(tasks, consumer_name))
    got_status, body = await running.get(path)
    assert (got_status, body["type"], body["status"]) == (status, problem, status)


@pytest.mark.parametrize("handler", ["one by one", "batch"])
@pytest.mark.parametrize("hang", ["before-commit", "after-commit"])
async def test_a_consumer_killed_mid_handler_gets_the_message_again_and_the_effect_is_once(
    start_consumer: ConsumerFactory,
    consumer_name: str,
    channel: AbstractChannel,
    exchange: str,
    tmp_path: Path,
    hang: str,
    handler: str,
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'tasks.sqlite3'}"
    marker, port = tmp_path / "hanging", free_port()
    # The process's queues: the tasks consumer's under the test's name, one 0.2 s retry queue.
    retrying = ConsumerSettings(exchange=exchange, consumer_retry_delays_s=(0.2,))
    owned.own_consumer(consumer_topology(renamed(tasks, consumer_name), retrying))
    process = await run(
        "consume",
        "tests.support.hanging_tasks:consumer",
        env=clean_environment(
            TASKHOOK_EXCHANGE=exchange,
            TASKHOOK_DATABASE_URL=database_url,
            TASKHOOK_CONSUMER_HOST="127.0.0.1",
            TASKHOOK_CONSUMER_PORT=str(port),
            TASKHOOK_CONSUMER_RETRY_DELAYS_S="0.2",
            HANG=hang,
            HANG_BATCH="1" if handler == "batch" else "",
            HANG_MARKER=str(marker),
            HANG_CONSUMER_NAME=consumer_name,
        ),
    )
    completed = task_life("clip")[-1]
    try:
        async with aiohttp.ClientSession() as http:
            await Running(process, f"http://127.0.0.1:{port}", http).wait_ready()
        await publish(channel, exchange, completed)
        async with asyncio.timeout(START_TIMEOUT_S):
            while not marker.exists():
                await asyncio.sleep(0.02)
    finally:
        await kill_all(process)  # mid-handler, or whatever a failure above left running
    store = TaskStore.connect(database_url)
    try:
        before = await store.get(completed["task"]["id"])
        assert (before is not None) == (hang == "after-commit")

        running = await start_consumer(renamed(tasks, consumer_name), database_url=database_url)
        after = await wait_for_task(running, completed["task"]["id"], "completed")

        async with store._engine.connect() as connection:
            assert await connection.scalar(select(func.count()).select_from(inbox)) == 1
        if before is not None:  # written once, by the process that was killed
            assert after["recordedAt"] == before["recorded_at"]
        assert after["output"] == EXPECTED_OUTPUTS["clip"]
    finally:
        await store.close()
