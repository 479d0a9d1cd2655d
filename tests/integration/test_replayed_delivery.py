"""A replayed copy reaches the handler though its message_id was handled before, and is applied
once per replay run: what lets a fixed consumer re-process a window."""

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from aio_pika.abc import AbstractChannel

from taskhook.consumers import TaskEvent, consumer
from taskhook.consumers.delivery_info import DeliveryInfo, current_delivery
from taskhook.history.query import EventQuery
from taskhook.tasks.consumer import tasks
from taskhook.tasks.store import TaskStore
from taskhook.tools.send import sample_life
from tests.conftest import ConsumerFactory
from tests.support.archive import archived, live_messages, publish_archived
from tests.support.consumers import renamed

from .test_operator_tools import tool

pytestmark = pytest.mark.archive  # replay --archive reads the archive

WAIT_S = 10.0


async def eventually(condition: Any) -> None:
    async with asyncio.timeout(WAIT_S):
        while not condition():
            await asyncio.sleep(0.02)


async def test_a_replayed_copy_reaches_the_handler_knowing_its_run(
    start_consumer: ConsumerFactory, consumer_name: str, channel: AbstractChannel, exchange: str
) -> None:
    seen: list[tuple[TaskEvent, DeliveryInfo]] = []

    @consumer(consumer_name, "task.#")
    async def record(event: TaskEvent) -> None:
        seen.append((event, current_delivery()))

    await start_consumer(record)
    (message,) = live_messages(list(sample_life("upload", "task.completed", 1)))
    await publish_archived(channel, exchange, [message])
    await eventually(lambda: len(seen) == 1)

    replayed = await tool(exchange, "replay", "--archive", "--since", "5m", "--to", consumer_name)

    assert replayed.code == 0, replayed.error
    await eventually(lambda: len(seen) == 2)
    (event, live), (again, copy) = seen
    assert event.id == again.id == live.message_id == copy.message_id == message.message_id
    assert live.replay_run is None
    assert live.replayed is None
    assert copy.replay_run is not None
    assert copy.replayed == archived(exchange).archive_queue
    assert copy.routing_key == live.routing_key == "task.completed.upload"
    assert copy.facts().received_at_ms == live.facts().received_at_ms is not None
    assert live.dedup_key == message.message_id
    assert copy.dedup_key == f"{message.message_id} replay {copy.replay_run}"


async def test_the_tasks_consumer_indexes_a_life_and_takes_a_replayed_run_once(
    start_consumer: ConsumerFactory, channel: AbstractChannel, exchange: str, tmp_path: Path
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'tasks.sqlite3'}"
    name = f"tasks-{uuid.uuid4().hex[:8]}"
    await start_consumer(renamed(tasks, name), database_url=database)
    messages = live_messages(list(sample_life("export", "task.completed", 7)))
    await publish_archived(channel, exchange, messages)
    store = TaskStore.connect(database)
    task_id = str(messages[0].headers["task-id"])

    async def indexed() -> list[Any]:
        return await store.events.find(EventQuery(task_id=task_id))

    try:
        async with asyncio.timeout(WAIT_S):
            while len(await indexed()) < len(messages):
                await asyncio.sleep(0.05)
        run = ("replay", "--archive", "--since", "5m", "--to", name, "--run", "fix-1")
        for _ in range(2):  # a run resumed after a kill: the same run id
            assert (await tool(exchange, *run)).code == 0
        async with asyncio.timeout(WAIT_S):
            while await _claims(store, "% replay fix-1") < len(messages):
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        assert await _claims(store, "% replay fix-1") == len(messages)
        found = await indexed()
        assert sorted(event.id for event in found) == sorted(m.message_id for m in messages)
        assert [found[0].event, found[-1].event] == ["task.spawned", "task.completed"]
        assert {event.replayed for event in found} == {None}
        assert (await store.get(task_id) or {})["phase"] == "completed"
    finally:
        await store.close()


async def _claims(store: TaskStore, pattern: str) -> int:
    from sqlalchemy import func, select

    from taskhook.tasks.tables import inbox

    async with store._engine.connect() as connection:
        statement = select(func.count()).where(inbox.c.message_id.like(pattern))
        return int((await connection.execute(statement)).scalar_one())
