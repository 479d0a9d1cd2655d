"""The tasks store on real SQLite and PostgreSQL: out of order, duplicated, concurrent."""

import asyncio
import random
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from taskhook.tasks.store import SchemaMissing, TaskStore
from taskhook.tasks.tables import inbox, metadata, tasks
from taskhook.tasks.views import TaskQuery
from tests.support.lifecycle import (
    EXPECTED_OUTPUTS,
    as_event,
    failed_life,
    published,
    snapshot,
    task_life,
)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[TaskStore]:
    opened = TaskStore.connect(database_url)
    await opened.migrate()
    yield opened
    await opened.close()


async def record_all(store: TaskStore, bodies: list[dict[str, Any]]) -> list[bool]:
    return [await store.record(as_event(body)) for body in bodies]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("task_type", sorted(EXPECTED_OUTPUTS))
async def test_a_shuffled_duplicated_life_ends_in_the_final_state_and_output(
    store: TaskStore, task_type: str, seed: int
) -> None:
    life = task_life(task_type)
    shuffler = random.Random(seed)
    deliveries = life + shuffler.sample(life, k=4)  # every event once, some of them twice
    shuffler.shuffle(deliveries)

    applied = await record_all(store, deliveries)

    assert applied.count(True) == len(life)  # each message had an effect exactly once
    task = await store.get(life[0]["task"]["id"])
    assert task is not None
    assert (task["phase"], task["type"], task["progress"]) == ("completed", task_type, None)
    assert task["updated_at"] == life[-1]["task"]["status"]["updatedAt"]
    assert task["output"] == EXPECTED_OUTPUTS[task_type]


async def test_a_late_running_update_after_completion_changes_nothing(store: TaskStore) -> None:
    life = task_life()
    await record_all(store, [life[-1]])
    before = await store.get(life[0]["task"]["id"])

    assert await store.record(as_event(life[3])) is True  # a new message, but an older snapshot
    assert await store.get(life[0]["task"]["id"]) == before


async def test_the_same_message_id_twice_has_the_effect_of_once(store: TaskStore) -> None:
    running = task_life()[2]
    # Same message id, but a newer snapshot: only a message id decides, not the content.
    tampered = running | {"task": running["task"] | {"status": {"phase": "failed", "updatedAt": 2}}}
    tampered["task"]["status"]["updatedAt"] = running["task"]["status"]["updatedAt"] + 1

    assert await record_all(store, [running, tampered]) == [True, False]
    task = await store.get(running["task"]["id"])
    assert task is not None
    assert (task["phase"], task["progress"], task["event_id"]) == ("running", 0.25, running["id"])


async def test_concurrent_deliveries_of_one_message_apply_it_once(store: TaskStore) -> None:
    body = task_life()[-1]
    applied = await asyncio.gather(*(store.record(as_event(body)) for _ in range(8)))
    assert sorted(applied) == [False] * 7 + [True]


async def test_concurrent_events_of_one_task_end_in_the_newest(store: TaskStore) -> None:
    life = task_life("transcode-file")
    await asyncio.gather(*(store.record(as_event(body)) for body in reversed(life)))
    task = await store.get(life[0]["task"]["id"])
    assert task is not None
    assert (task["phase"], task["output"]) == ("completed", EXPECTED_OUTPUTS["transcode-file"])


async def test_a_failed_task_keeps_its_error_message_and_retries(store: TaskStore) -> None:
    life = failed_life()
    await record_all(store, list(reversed(life)))
    task = await store.get(life[0]["task"]["id"])
    assert task is not None
    assert (task["phase"], task["error_message"], task["retries"], task["output"]) == (
        "failed",
        "input unreadable",
        2,
        None,
    )


async def test_find_filters_by_phase_and_type_newest_first(store: TaskStore) -> None:
    upload, export = task_life("upload"), task_life("export")
    await record_all(store, [upload[-1], export[3], failed_life("clip")[-1]])
    export_id = export[0]["task"]["id"]

    running = await store.find(TaskQuery(phase=("running",)))
    assert [task["id"] for task in running] == [export_id]
    finished = await store.find(TaskQuery(phase=("completed", "failed")))
    assert [task["phase"] for task in finished] == ["completed", "failed"]  # newest first
    assert len(await store.find(TaskQuery(type=("upload", "clip")))) == 2
    assert len(await store.find(TaskQuery(limit=1, offset=2))) == 1


async def test_find_names_a_task_by_its_id_an_asset_id_or_any_event_about_it(
    store: TaskStore,
) -> None:
    life = task_life("export")
    life[-1]["task"]["inputAssetId"] = "asset-in-1"
    other = task_life("upload")
    await record_all(store, [*life, other[-1]])
    task_id = life[0]["task"]["id"]

    for search in (task_id, "asset-in-1", life[0]["id"], life[-1]["id"]):
        found = await store.find(TaskQuery(search=search))
        assert [task["id"] for task in found] == [task_id], search
    assert await store.find(TaskQuery(search="no-such-id")) == []


async def test_find_keeps_tasks_updated_since_a_moment(store: TaskStore) -> None:
    upload, clip = task_life("upload"), failed_life("clip")
    await record_all(store, [upload[-1], clip[-1]])
    completed_at = upload[-1]["task"]["status"]["updatedAt"]
    failed_at = clip[-1]["task"]["status"]["updatedAt"]
    assert failed_at < completed_at

    found = await store.find(TaskQuery(updated_since=completed_at))
    assert [task["id"] for task in found] == [upload[0]["task"]["id"]]
    assert len(await store.find(TaskQuery(updated_since=failed_at))) == 2


async def test_the_migrations_create_exactly_the_declared_tables(store: TaskStore) -> None:
    def differences(connection: Any) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))

    async with store._engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_migrating_again_and_from_several_replicas_at_once_is_harmless(
    database_url: str,
) -> None:
    # Eight, not two: on SQLite the first to switch the new file to WAL briefly has it to itself.
    stores = [TaskStore.connect(database_url) for _ in range(8)]
    try:
        await asyncio.gather(*(store.migrate() for store in stores))
        await stores[0].migrate()
        assert await stores[0].find(TaskQuery()) == []
    finally:
        for store in stores:
            await store.close()


async def test_reading_before_the_consumer_ever_ran_says_so(database_url: str) -> None:
    store = TaskStore.connect(database_url)
    try:
        with pytest.raises(SchemaMissing, match="taskhook consume tasks"):
            await store.find(TaskQuery())
    finally:
        await store.close()


async def test_the_inbox_forgets_old_messages_but_not_recent_ones(store: TaskStore) -> None:
    first, second = published("task.spawned", snapshot("t", "upload", "pending", 1)), None
    await record_all(store, [first])
    assert await store.prune_inbox(older_than_ms=0) == 0
    assert await store.prune_inbox(older_than_ms=2**62) == 1
    second = first  # forgotten: the same message counts as new again, and changes nothing
    assert await record_all(store, [second]) == [True]


async def test_a_migrated_sqlite_file_is_in_wal_mode_so_readers_never_wait(tmp_path: Path) -> None:
    path = tmp_path / "tasks.sqlite3"
    store = TaskStore.connect(f"sqlite+aiosqlite:///{path}")
    try:
        await store.migrate()
    finally:
        await store.close()
    with closing(sqlite3.connect(path)) as reader:
        assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.parametrize("seed", range(4))
async def test_a_batch_has_the_effect_of_its_events_recorded_one_by_one(
    store: TaskStore, seed: int
) -> None:
    shuffler = random.Random(seed)
    lives = [task_life(task_type) for task_type in sorted(EXPECTED_OUTPUTS)] + [failed_life()]
    deliveries = [body for life in lives for body in life]
    deliveries += shuffler.sample(deliveries, k=8)  # copies of some messages, in the same batch
    shuffler.shuffle(deliveries)
    events = [as_event(body) for body in deliveries]
    task_ids = [life[0]["task"]["id"] for life in lives]

    one_by_one = [await store.record(event) for event in events]
    expected = [await stored_state(store, task_id) for task_id in task_ids]
    await forget_everything(store)
    split = shuffler.randrange(1, len(events))
    batched = await store.record_many(events[:split]) + await store.record_many(events[split:])

    assert batched == one_by_one
    assert [await stored_state(store, task_id) for task_id in task_ids] == expected


async def stored_state(store: TaskStore, task_id: str) -> dict[str, Any]:
    row = await store.get(task_id)
    assert row is not None
    return {name: value for name, value in row.items() if name != "recorded_at"}


async def forget_everything(store: TaskStore) -> None:
    async with store._engine.begin() as connection:
        await connection.execute(tasks.delete())
        await connection.execute(inbox.delete())
