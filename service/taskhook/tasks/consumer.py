"""The reference consumer ``tasks``: every task and asset event, kept as each task's and each
asset's latest state.

Run it with ``taskhook consume tasks``; read what it keeps with ``taskhook tasks list|show``,
``taskhook assets list|show``, or ``GET /tasks[/{id}]`` and ``GET /assets[/{id}]`` on the
consumer's port.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from taskhook.clock import now_ms
from taskhook.consumers.consumer import Consumer, PermanentError, Running
from taskhook.consumers.delivery_info import current_deliveries, current_delivery
from taskhook.consumers.events import AnyEvent
from taskhook.core.published import PublishedAssetEvent, PublishedTaskEvent
from taskhook.settings import ConsumerSettings
from taskhook.tasks.api import read_routes
from taskhook.tasks.statements import Recorded
from taskhook.tasks.store import TaskStore

log = logging.getLogger(__name__)

# Far longer than any redelivery: Livepeer stops retrying after about a day, and the broker
# redelivers within the consumer's retry delays. Out-of-order protection does not need the
# inbox at all; it compares snapshot times.
INBOX_RETENTION_MS = 7 * 24 * 3600 * 1000
PRUNE_EVERY_S = 3600.0


@asynccontextmanager
async def open_tasks(settings: ConsumerSettings) -> AsyncIterator[Running[Recorded]]:
    """Migrate the database, keep the inbox and the event index pruned, and record every event
    (and index the task events)."""
    store = TaskStore.from_settings(settings)
    try:
        await store.migrate()
        index_retention_ms = settings.archive_max_age_s * 1000
        pruning = asyncio.create_task(_prune(store, index_retention_ms), name="tasks-inbox-pruning")

        async def record(event: Recorded) -> None:
            await store.record(_kept(event), current_delivery().facts())

        async def record_batch(events: Sequence[Recorded]) -> None:
            facts = [delivery.facts() for delivery in current_deliveries()]
            kept = [_kept(each) for each in events]
            await store.record_many(kept, facts)  # one transaction: all or nothing

        try:
            yield Running(record, routes=read_routes(store), batch=record_batch)
        finally:
            pruning.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pruning
    finally:
        await store.close()


def _kept(event: object) -> Recorded:
    """``event`` if the store keeps its kind; a message of another family (replayed here by
    hand, say) can never be recorded."""
    if not isinstance(event, PublishedTaskEvent | PublishedAssetEvent):
        raise PermanentError(f"the tasks consumer keeps task and asset events, not {event!r:.60}")
    return event


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
    bindings=("task.#", "asset.#"),
    open=open_tasks,
    # Only task and asset events are bound, so only those two classes come out of it.
    event_type=AnyEvent,
    summary=(
        "Keeps each task's and asset's latest state in a database; serves GET /tasks, GET /assets."
    ),
)
