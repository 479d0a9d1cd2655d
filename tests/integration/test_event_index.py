"""The event index in the tasks database: every event of a task, in its order, once."""

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from taskhook.clock import now_ms
from taskhook.core.delivered import DeliveredAs
from taskhook.core.message import PublishedTaskEvent
from taskhook.history.query import EventQuery
from taskhook.tasks.consumer import tasks
from taskhook.tasks.store import TaskStore
from tests.conftest import ConsumerFactory
from tests.support.consumers import renamed
from tests.support.lifecycle import as_event, failed_life, task_life

pytestmark = pytest.mark.archive  # the index of what the archive keeps: timelines as shipped

TYPES = ("upload", "export", "export-data", "transcode-file", "clip")
RECEIVED = 1_764_930_000_000


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[TaskStore]:
    opened = TaskStore.connect(database_url)
    await opened.migrate()
    yield opened
    await opened.close()


Handled = tuple[PublishedTaskEvent, DeliveredAs]


def delivered(body: dict[str, Any], received_at: int, **facts: Any) -> Handled:
    """The event and how it arrived, as the tasks consumer hands them to the store."""
    key = f"{body['event']}.{body['task']['type']}"
    return as_event(body), DeliveredAs(key, received_at_ms=received_at, **facts)


async def record_all(store: TaskStore, handled: list[Handled]) -> list[bool]:
    return await store.record_many([e for e, _ in handled], [f for _, f in handled])


@pytest.mark.parametrize("task_type", TYPES)
async def test_a_life_arriving_out_of_order_and_twice_is_one_timeline_in_its_order(
    store: TaskStore, task_type: str
) -> None:
    life = task_life(task_type)
    arrivals = [*life, *life[2:5]]  # three delivered twice
    random.Random(task_type).shuffle(arrivals)
    events = [delivered(body, RECEIVED + i) for i, body in enumerate(arrivals)]

    for start in range(0, len(events), 3):  # in batches, as the consumer applies them
        await record_all(store, events[start : start + 3])

    found = await store.events.find(EventQuery(task_id=life[0]["task"]["id"]))
    assert [event.id for event in found] == [body["id"] for body in life]
    assert [event.phase for event in found] == [
        "pending", "waiting", "running", "running", "running", "completed", "completed"
    ]  # fmt: skip
    assert [event.event for event in found][-2:] == ["task.updated", "task.completed"]
    assert found[2].progress == 0.25
    assert {event.routing_key for event in found} >= {f"task.completed.{task_type}"}
    assert {event.task_type for event in found} == {task_type}


async def test_a_failed_life_ends_in_its_failure(store: TaskStore) -> None:
    life = failed_life()
    await record_all(store, [delivered(body, RECEIVED) for body in reversed(life)])

    found = await store.events.find(EventQuery(task_id=life[0]["task"]["id"]))

    assert [event.phase for event in found] == ["pending", "running", "waiting", "failed", "failed"]
    assert found[-1].event == "task.failed"


async def test_the_index_is_asked_by_event_id_event_type_and_window(store: TaskStore) -> None:
    upload, export = task_life("upload"), task_life("export")
    await record_all(store, [delivered(b, RECEIVED + i * 1000) for i, b in enumerate(upload)])
    await record_all(store, [delivered(b, RECEIVED + 7000 + i) for i, b in enumerate(export)])

    by_id = await store.events.find(EventQuery(event_id=upload[3]["id"]))
    assert [event.id for event in by_id] == [upload[3]["id"]]
    completed = await store.events.find(EventQuery(events=("task.completed",)))
    assert [event.task_type for event in completed] == ["upload", "export"]
    exports = await store.events.find(EventQuery(task_types=("export",), events=("task.spawned",)))
    assert [event.id for event in exports] == [export[0]["id"]]
    window = await store.events.find(EventQuery(since_ms=RECEIVED + 2000, until_ms=RECEIVED + 4000))
    assert [event.id for event in window] == [upload[2]["id"], upload[3]["id"]]
    latest = await store.events.find(EventQuery(limit=2))
    assert [event.id for event in latest] == [export[-2]["id"], export[-1]["id"]]
    assert await store.events.find(EventQuery(task_id="no-such-task")) == []


async def test_reconciled_and_replayed_events_say_so(store: TaskStore) -> None:
    life = task_life("clip")
    await record_all(
        store,
        [
            delivered(life[0], RECEIVED, reconciled="studio-task-list"),
            delivered(life[1], RECEIVED + 1, replay_run="run-1"),
        ],
    )

    found = await store.events.find(EventQuery(task_id=life[0]["task"]["id"]))

    assert [(event.reconciled, event.replayed) for event in found] == [
        ("studio-task-list", None),
        (None, "run-1"),
    ]


async def test_a_replayed_copy_is_applied_once_per_run_and_indexed_once(store: TaskStore) -> None:
    body = task_life("upload")[0]
    assert await store.record(*delivered(body, RECEIVED)) is True
    assert await store.record(*delivered(body, RECEIVED)) is False  # a redelivery

    first_run = [delivered(body, RECEIVED, replay_run="r1") for _ in range(2)]
    assert await record_all(store, first_run) == [True, False]
    assert await store.record(*delivered(body, RECEIVED, replay_run="r1")) is False
    assert await store.record(*delivered(body, RECEIVED, replay_run="r2")) is True

    found = await store.events.find(EventQuery(event_id=body["id"]))
    assert len(found) == 1
    assert found[0].replayed is None  # the original's row


async def test_pruning_forgets_events_received_before_the_retention(store: TaskStore) -> None:
    life = task_life("upload")
    await record_all(store, [delivered(b, RECEIVED + i * 1000) for i, b in enumerate(life)])

    removed = await store.events.prune(RECEIVED + 3000)

    assert removed == 3
    assert await store.events.oldest() == RECEIVED + 3000
    found = await store.events.find(EventQuery(task_id=life[0]["task"]["id"]))
    assert [event.id for event in found] == [body["id"] for body in life[3:]]


async def test_the_tasks_consumer_prunes_the_index_as_the_archive_retention_says(
    start_consumer: ConsumerFactory, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'pruned.sqlite3'}"
    store = TaskStore.connect(url)
    await store.migrate()
    life = task_life("upload")
    old, recent = now_ms() - 2 * 3_600_000, now_ms()
    await record_all(store, [delivered(body, old) for body in life[:3]])
    await record_all(store, [delivered(body, recent) for body in life[3:]])

    try:
        await start_consumer(renamed(tasks, f"tasks-{uuid.uuid4().hex[:8]}"), database_url=url,
                             archive_max_age_s=3600)  # fmt: skip
        async with asyncio.timeout(10):
            while await store.events.oldest() != recent:
                await asyncio.sleep(0.05)
        found = await store.events.find(EventQuery(task_id=life[0]["task"]["id"]))
        assert [event.id for event in found] == [body["id"] for body in life[3:]]
    finally:
        await store.close()
