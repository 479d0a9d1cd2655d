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
from taskhook.consumers.consumer import Consumer, Running, TaskEvent
from taskhook.consumers.delivery_info import current_deliveries, current_delivery
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
    """Migrate the database, keep the inbox and the event index pruned, and record (and index)
    every event."""
    store = TaskStore.from_settings(settings)
    try:
        await store.migrate()
        index_retention_ms = settings.archive_max_age_s * 1000
        pruning = asyncio.create_task(_prune(store, index_retention_ms), name="tasks-inbox-pruning")

        async def record(event: TaskEvent) -> None:
            await store.record(event, current_delivery().facts())

        async def record_batch(events: Sequence[TaskEvent]) -> None:
            facts = [delivery.facts() for delivery in current_deliveries()]
            await store.record_many(events, facts)  # one transaction: all or nothing

        try:
            yield Running(record, routes=read_routes(store), batch=record_batch)
        finally:
            pruning.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pruning
    finally:
        await store.close()


async def _prune(store: TaskStore, index_retention_ms: int) -> None:
    """The inbox after its retention; the event index as the archive's age limit drops what
    its rows point to (with the archive off too: the setting is then the index's own limit)."""
    while True:
        try:
            removed = await store.prune_inbox(now_ms() - INBOX_RETENTION_MS)
            forgotten = await store.events.prune(now_ms() - index_retention_ms)
            log.info("inbox pruned", extra={"removed": removed, "events_removed": forgotten})
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
