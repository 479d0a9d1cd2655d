"""``make bench-index``: one task's events out of a million, on SQLite and on PostgreSQL.

Fills the event index (``taskhook.history``) with ``--events`` rows, about seven a task, spread
over a week as the archive's retention keeps them, then asks for random tasks' timelines the way
``taskhook history --task`` does (``EventIndex.find``), one after another, and prints the
latency percentiles per database. The rows go in with the driver's executemany, a chunk at a
time, not through the consumer: the consumer's own pace is what ``make bench`` reports as the
index's drain.
"""

import argparse
import asyncio
import json
import random
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from taskhook.history.query import EventQuery, timeline_rank
from taskhook.tasks.store import TaskStore
from taskhook.tasks.tables import events
from tests.bench.stats import percentiles_ms
from tests.support.databases import fresh_postgres_database

EVENTS_PER_TASK = 7
CHUNK = 5_000
WEEK_MS = 7 * 86_400_000
LIFE = (
    ("task.spawned", "pending"),
    ("task.updated", "waiting"),
    ("task.updated", "running"),
    ("task.updated", "running"),
    ("task.updated", "running"),
    ("task.updated", "completed"),
    ("task.completed", "completed"),
)
TYPES = ("upload", "export", "export-data", "transcode-file", "clip")


def rows(count: int, start_ms: int, seed: int) -> list[dict[str, Any]]:
    """``count`` index rows: whole task lives, received over a week from ``start_ms``."""
    generator = random.Random(seed)
    out: list[dict[str, Any]] = []
    while len(out) < count:
        task_id, task_type = str(uuid.UUID(int=generator.getrandbits(128))), generator.choice(TYPES)
        at = start_ms + generator.randrange(WEEK_MS)
        for step, (event, phase) in enumerate(LIFE):
            updated = at + step * 10_000
            out.append(
                {
                    "id": str(uuid.UUID(int=generator.getrandbits(128))),
                    "event": event,
                    "task_id": task_id,
                    "task_type": task_type,
                    "phase": phase,
                    "rank": timeline_rank(phase, event),
                    "progress": step / 6,
                    "updated_at": updated,
                    "received_at": updated + 20,
                    "routing_key": f"{event}.{task_type}",
                    "reconciled": None,
                    "replayed": None,
                    "indexed_at": updated + 25,
                }
            )
    return out[:count]


async def fill(store: TaskStore, count: int) -> tuple[float, list[str]]:
    """Insert ``count`` rows; the seconds it took, and every task id."""
    started = time.perf_counter()
    now = int(time.time() * 1000)
    task_ids: list[str] = []
    engine = store._engine
    for offset in range(0, count, CHUNK * 10):
        batch = rows(min(CHUNK * 10, count - offset), now - WEEK_MS, seed=offset)
        task_ids += [row["task_id"] for row in batch[::EVENTS_PER_TASK]]
        async with engine.begin() as connection:
            for start in range(0, len(batch), CHUNK):  # the driver's executemany
                await connection.execute(events.insert(), batch[start : start + CHUNK])
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.exec_driver_sql("ANALYZE events")
        else:
            await connection.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started, task_ids


async def lookups(store: TaskStore, task_ids: list[str], count: int) -> dict[str, Any]:
    """``count`` timelines of random tasks, one after another; latency percentiles in ms."""
    generator = random.Random(7)
    latencies = []
    for _ in range(count):
        task_id = generator.choice(task_ids)
        started = time.perf_counter()
        found = await store.events.find(EventQuery(task_id=task_id))
        latencies.append((time.perf_counter() - started) * 1000)
        assert len(found) == EVENTS_PER_TASK, (task_id, len(found))
    return {"lookups": count} | percentiles_ms(latencies)


async def measure(url: str, events_count: int, lookup_count: int) -> dict[str, Any]:
    store = TaskStore.connect(url)
    try:
        await store.migrate()
        fill_s, task_ids = await fill(store, events_count)
        await lookups(store, task_ids, 100)  # warm the cache and the connection pool
        return {"events": events_count, "fill_s": round(fill_s, 1)} | await lookups(
            store, task_ids, lookup_count
        )
    finally:
        await store.close()


async def on_each_database(measure: Callable[[str], Awaitable[Any]]) -> dict[str, Any]:
    """``measure`` (given a database URL) on a fresh SQLite file, then on a fresh PostgreSQL
    database of its own; the figures by the database's name."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        results["SQLite"] = await measure(f"sqlite+aiosqlite:///{scratch}/bench.sqlite3")
    async with fresh_postgres_database() as postgres:
        results["PostgreSQL"] = await measure(postgres)
    return results


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    return await on_each_database(lambda url: measure(url, args.events, args.lookups))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    print(json.dumps(results))
    print()
    print("| database | events | fill s | lookups | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|---|")
    for name, figures in results.items():
        print(
            f"| {name} | {figures['events']:,} | {figures['fill_s']} | {figures['lookups']:,} "
            f"| {figures['p50_ms']} | **{figures['p99_ms']}** | {figures['max_ms']} |"
        )


if __name__ == "__main__":
    main()
