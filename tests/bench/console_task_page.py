"""``make bench-console``: the console's task page with a million events in the index, on SQLite
and on PostgreSQL: the server's time per page, target under 200 ms.

Fills the event index as ``make bench-index`` does (``tests.bench.index_lookup.fill``: about
seven events a task over a week), records the sampled tasks' current state, then asks the console
for random tasks' pages (``GET /tasks/<id>``: the task's row, its outputs and its timeline from
the index) one after another, timing each in the server from the request's arrival to its answer
being ready (a middleware around everything else), and prints the percentiles per database.
"""

import argparse
import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from taskhook.broker.topology import Topology
from taskhook.console.app import create_console_app
from taskhook.console.broker import BrokerView
from taskhook.core.redaction import DEFAULT_REDACTION
from taskhook.settings import ConsoleSettings
from taskhook.tasks.store import TaskStore
from taskhook.tasks.tables import tasks
from tests.bench.index_lookup import EVENTS_PER_TASK, fill, on_each_database
from tests.bench.stats import percentiles_ms

SAMPLED_TASKS = 500
# The broker is never asked by the task page; a URL nothing listens on proves it.
NO_BROKER = "amqp://guest:guest@127.0.0.1:1/"
TARGET_MS = 200


def timed(spent: list[float]) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def timing(request: web.Request, handler: Any) -> web.StreamResponse:
        started = time.perf_counter()
        response: web.StreamResponse = await handler(request)
        spent.append((time.perf_counter() - started) * 1000)
        return response

    return timing


async def record_tasks(store: TaskStore, task_ids: list[str]) -> None:
    """A current state for each sampled task, as the tasks consumer would have left it."""
    now = int(time.time() * 1000)
    rows = [
        {
            "id": task_id, "type": "upload", "phase": "completed", "phase_rank": 3,
            "progress": None, "error_message": None, "retries": None, "updated_at": now,
            "created_at": now - 60_000, "scheduled_at": now - 59_000, "input_asset_id": None,
            "output_asset_id": "a" * 36, "project_id": None,
            "output": {"name": "video.mp4", "duration": 23.8, "size": 84934509, "tracks": []},
            "event_id": f"e-{task_id}", "recorded_at": now,
        }
        for task_id in task_ids
    ]  # fmt: skip
    async with store._engine.begin() as connection:  # a bench's bulk load
        await connection.execute(tasks.insert(), rows)


async def measure(url: str, events_count: int, pages: int) -> dict[str, Any]:
    store = TaskStore.connect(url)
    await store.migrate()
    fill_s, task_ids = await fill(store, events_count)
    sampled = random.Random(3).sample(task_ids, min(SAMPLED_TASKS, len(task_ids)))
    await record_tasks(store, sampled)
    settings = ConsoleSettings(database_url=url, amqp_url=NO_BROKER)
    broker = BrokerView(NO_BROKER, Topology(settings.exchange), (), DEFAULT_REDACTION)
    app = create_console_app(settings, store, broker)
    spent: list[float] = []
    app.middlewares.insert(0, timed(spent))
    generator = random.Random(11)
    async with TestClient(TestServer(app)) as client:
        for warm_up in sampled[:50]:
            await client.get(f"/tasks/{warm_up}")
        spent.clear()
        for _ in range(pages):
            task_id = generator.choice(sampled)
            answer = await client.get(f"/tasks/{task_id}")
            assert answer.status == 200, answer.status
            assert (await answer.text()).count('class="kind ') == EVENTS_PER_TASK
    return {
        "events": events_count,
        "fill_s": round(fill_s, 1),
        "pages": pages,
    } | percentiles_ms(spent)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    return await on_each_database(lambda url: measure(url, args.events, args.pages))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=1_000)
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    print(json.dumps(results))
    print()
    print("| database | events | fill s | task pages | p50 ms | p99 ms | max ms | target |")
    print("|---|---|---|---|---|---|---|---|")
    for name, f in results.items():
        print(
            f"| {name} | {f['events']:,} | {f['fill_s']} | {f['pages']:,} | {f['p50_ms']} "
            f"| **{f['p99_ms']}** | {f['max_ms']} | < {TARGET_MS} |"
        )


if __name__ == "__main__":
    main()
