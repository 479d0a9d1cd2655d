"""The event index in the tasks consumer's database: written with each batch the consumer
applies (``TaskStore.record_many``), read by ``taskhook history`` and the console.

One row per event id: a redelivered or duplicated event is indexed once, and a replayed copy of
an event already indexed adds nothing (its row says ``replayed`` only when the original never
arrived). Rows go when the archive's retention has dropped the message they point to.
"""

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from taskhook.history.query import EventQuery, IndexedEvent, indexed_event
from taskhook.tasks.tables import events

Reading = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


class EventIndex:
    """Finds indexed events; ``reading`` opens a connection as the tasks store does (a missing
    schema raises ``SchemaMissing``, an unreachable database ``StoreUnavailable``)."""

    def __init__(self, reading: Reading, writer: AsyncEngine, insert: Callable[[Any], Any]) -> None:
        self._reading = reading
        self._writer = writer
        self.insert = (
            insert(events)
            .values({column.name: bindparam(column.name, type_=column.type) for column in events.c})
            .on_conflict_do_nothing(index_elements=[events.c.id])
        )
        """Index rows (``taskhook.history.query.index_row``), each event id once: executed by
        the tasks store in the transaction that applies the events."""

    async def find(self, query: EventQuery) -> list[IndexedEvent]:
        """The latest ``query.limit`` events ``query`` selects, oldest first: one task's in the
        order of its ``status.updatedAt``, any other selection in the order received."""
        statement = select(events)
        if query.task_id is not None:
            statement = statement.where(events.c.task_id == query.task_id)
        if query.event_id is not None:
            statement = statement.where(events.c.id == query.event_id)
        if query.events:
            statement = statement.where(events.c.event.in_(query.events))
        if query.task_types:
            statement = statement.where(events.c.task_type.in_(query.task_types))
        if query.since_ms is not None:
            statement = statement.where(events.c.received_at >= query.since_ms)
        if query.until_ms is not None:
            statement = statement.where(events.c.received_at < query.until_ms)
        order: Sequence[Any] = (
            (events.c.updated_at.desc(), events.c.rank.desc(), events.c.received_at.desc())
            if query.task_id is not None
            else (events.c.received_at.desc(), events.c.id.desc())
        )
        statement = statement.order_by(*order).limit(query.limit)
        async with self._reading() as connection:
            rows = (await connection.execute(statement)).all()
        return [indexed_event(dict(row._mapping)) for row in reversed(rows)]

    async def oldest(self) -> int | None:
        """When the oldest event still indexed was received; None for an empty index."""
        async with self._reading() as connection:
            value = (await connection.execute(select(func.min(events.c.received_at)))).scalar()
        return int(value) if value is not None else None

    async def prune(self, older_than_ms: int) -> int:
        """Forget events received before ``older_than_ms``; how many rows went."""
        async with self._writer.begin() as connection:
            result = await connection.execute(
                delete(events).where(events.c.received_at < older_than_ms)
            )
        return int(result.rowcount)
