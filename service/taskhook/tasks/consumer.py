"""The reference consumer ``tasks``: every task event, kept as each task's latest state and output.

Run it with ``taskhook consume tasks``; read what it keeps with ``taskhook tasks list|show`` or
``GET /tasks[/{id}]`` on the consumer's port.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from taskhook.clock import now_ms
from taskhook.consumers.consumer import Consumer, Running
from taskhook.consumers.events import TaskEvent
from taskhook.settings import ConsumerSettings
from taskhook.tasks.api import read_routes
from taskhook.tasks.store import TaskStore

log = logging.getLogger(__name__)

# Far longer than any redelivery: Livepeer stops retrying after about a day, and the broker
# redelivers within the consumer's retry delays. Out-of-order protection does not need the
# inbox at all; it compares snapshot times.
INBOX_RETENTION_MS = 7 * 24 * 3600 * 1000
PRUNE_EVERY_S = 3600.0


@asynccontextmanager
async def open_tasks(settings: ConsumerSettings) -> AsyncIterator[Running[TaskEvent]]:
    """Migrate the database, keep the inbox pruned, and record every event."""
    store = TaskStore.from_settings(settings)
    try:
        await store.migrate()
        pruning = asyncio.create_task(_prune_inbox(store), name="tasks-inbox-pruning")

        async def record(event: TaskEvent) -> None:
            await store.record(event)

        async def record_batch(events: Sequence[TaskEvent]) -> None:
            await store.record_many(events)  # one transaction: all or nothing

        try:
            yield Running(record, routes=read_routes(store), batch=record_batch)
        finally:
            pruning.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pruning
    finally:
        await store.close()


async def _prune_inbox(store: TaskStore) -> None:
    while True:
        try:
            removed = await store.prune_inbox(now_ms() - INBOX_RETENTION_MS)
            log.info("inbox pruned", extra={"removed": removed})
        except Exception as e:  # the database may be away for a while; try again next time
            log.warning("inbox pruning failed", extra={"error": type(e).__name__})
        await asyncio.sleep(PRUNE_EVERY_S)


tasks = Consumer(
    name="tasks",
    bindings=("task.#",),
    open=open_tasks,
    event_type=TaskEvent,
    summary="Keeps each task's latest state and output in a database; serves GET /tasks.",
)
