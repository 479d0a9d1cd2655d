"""The statements the tasks store runs on every message, built once with parameters, and the
record each event becomes: both decided without a connection."""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, or_
from sqlalchemy.dialects import postgresql, sqlite

from taskhook.core.published import PublishedAssetEvent, PublishedTaskEvent
from taskhook.tasks.asset_records import AssetRecord, asset_record_of
from taskhook.tasks.records import TaskRecord, record_of
from taskhook.tasks.tables import inbox

Recorded = PublishedTaskEvent | PublishedAssetEvent
"""What the store keeps the state of: task and asset events."""
UpsertCapable = Callable[[Table], postgresql.Insert | sqlite.Insert]
INSERTS: dict[str, UpsertCapable] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def claim_statement(insert: UpsertCapable) -> Any:
    """Claim a message in the inbox; returns its id only if no one had claimed it before."""
    return (
        insert(inbox)
        .values({column.name: bindparam(column.name, type_=column.type) for column in inbox.c})
        .on_conflict_do_nothing(index_elements=[inbox.c.message_id])
        .returning(inbox.c.message_id)
    )


def record_of_event(event: Recorded) -> TaskRecord | AssetRecord:
    return asset_record_of(event) if isinstance(event, PublishedAssetEvent) else record_of(event)


def upsert_statement(insert: UpsertCapable, table: Table, *, kept: str) -> Any:
    """Write a task's or an asset's state where the row is missing or older (by updated_at,
    then phase); the ``kept`` column, once set, stays when a later state leaves it out."""
    statement = insert(table).values(
        {column.name: bindparam(column.name, type_=column.type) for column in table.c}
    )
    new, old = statement.excluded, table.c
    newer = or_(
        old.updated_at < new.updated_at,
        and_(old.updated_at == new.updated_at, old.phase_rank < new.phase_rank),
    )
    changes: dict[str, Any] = {
        column.name: new[column.name] for column in table.columns if column.name != "id"
    }
    changes[kept] = func.coalesce(new[kept], old[kept])
    return statement.on_conflict_do_update(index_elements=[old.id], set_=changes, where=newer)
