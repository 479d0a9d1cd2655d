"""Where the ``tasks`` consumer keeps each task's latest state: SQLite or PostgreSQL.

``record`` is the whole write path, in one transaction: claim the message in the inbox (a
primary key, so a second claim of the same message finds it taken and changes nothing), then
upsert the task only where the new snapshot is newer than the stored one. Both are single
statements decided by the database, so two replicas handling the same task at once cannot
interleave a check and a write.
"""

import asyncio
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Connection,
    event,
    inspect,
    or_,
    select,
    text,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from taskhook import tracing
from taskhook.clock import now_ms
from taskhook.core.delivered import DeliveredAs, dedup_key
from taskhook.core.message import PublishedTaskEvent
from taskhook.history.index import EventIndex
from taskhook.history.query import index_row
from taskhook.settings import ConsumerSettings
from taskhook.tasks.asset_records import AssetRecord
from taskhook.tasks.records import TaskRecord
from taskhook.tasks.statements import (
    INSERTS,
    Recorded,
    claim_statement,
    record_of_event,
    upsert_statement,
)
from taskhook.tasks.tables import assets, inbox, tasks
from taskhook.tasks.tables import events as event_rows
from taskhook.tasks.views import AssetQuery, TaskQuery

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant will do, as long as nothing else in the database locks the same one.
MIGRATION_LOCK_KEY = 0x7461736B686F6F6B  # "taskhook"
# SQLite allows one writer at a time; the others wait this long instead of failing at once.
SQLITE_BUSY_TIMEOUT_S = 30.0
WRITE_OPTION = "taskhook_write"


class SchemaMissing(Exception):
    """The database has no tasks table yet: the consumer creates it when it first starts."""


class StoreUnavailable(Exception):
    """The database cannot be reached or opened; says where and why, never the password."""


def database_address(url: "str | URL") -> str:
    """Where ``url`` points, for people: a SQLite file, or PostgreSQL's host:port/database."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database}"
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def _unavailable(error: Exception, url: URL) -> StoreUnavailable:
    """``error`` from opening a connection to ``url``, in one line naming the setting."""
    if isinstance(error, DBAPIError):
        # The server's own words ('database "x" does not exist', 'password authentication
        # failed for user "x"'): they never carry the password.
        reason = str(error.orig).splitlines()[0] if error.orig is not None else "refused"
    elif isinstance(error, ConnectionRefusedError):
        reason = "connection refused (is the database server running there?)"
    elif isinstance(error, socket.gaierror):
        reason = "no such host"
    elif isinstance(error, TimeoutError):
        reason = "no answer"
    else:
        reason = type(error).__name__
    return StoreUnavailable(
        f"cannot open the tasks database at {database_address(url)} (TASKHOOK_DATABASE_URL): "
        f"{reason}"
    )


class TaskStore:
    """The tasks table and its inbox, behind one async engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        dialect = engine.dialect.name
        if dialect not in INSERTS:
            raise ValueError(f"the tasks store needs SQLite or PostgreSQL, not {dialect}")
        self._engine = engine
        # Writes (and migrations) lock SQLite when they begin, not at their first write, so two
        # writers queue up instead of one failing; PostgreSQL ignores the option.
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        # Built once, with parameters: building a statement per message cost more than the
        # database took to run it (about 1 ms of Python each, measured).
        self._claim = claim_statement(INSERTS[dialect])
        self._upserts: dict[type, Any] = {
            TaskRecord: upsert_statement(INSERTS[dialect], tasks, kept="output"),
            AssetRecord: upsert_statement(INSERTS[dialect], assets, kept="outputs"),
        }
        self.events = EventIndex(self._reading, self._writer, INSERTS[dialect])
        """The event index, written here with each batch applied."""

    @classmethod
    def connect(cls, url: str) -> "TaskStore":
        """A store for ``url`` (``sqlite+aiosqlite:///...`` or ``postgresql+asyncpg://...``).

        Nothing is opened until the first query.
        """
        if url.startswith("sqlite"):
            engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
            event.listen(engine.sync_engine, "connect", _take_over_sqlite_transactions)
            event.listen(engine.sync_engine, "begin", _begin_sqlite_transaction)
        else:
            engine = create_async_engine(url, pool_pre_ping=True)
        if tracing.tracer() is not None:  # a span per statement, under the handler's
            from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

            # It declares SQLAlchemy < 2.1 and refuses 2.1, whose engine events it uses are
            # unchanged; tests/integration/test_tracing.py fails if that stops being true.
            SQLAlchemyInstrumentor().instrument(
                engine=engine.sync_engine, tracer_provider=tracing.provider(), skip_dep_check=True
            )
        return cls(engine)

    @classmethod
    def from_settings(cls, settings: ConsumerSettings) -> "TaskStore":
        """The store at ``TASKHOOK_DATABASE_URL``: the tasks consumer opens it, the CLI reads it."""
        return cls.connect(settings.database_url.get_secret_value())

    async def close(self) -> None:
        await self._engine.dispose()

    async def migrate(self) -> None:
        """Create or upgrade the schema to the latest migration; safe to run from every replica.

        Raises ``StoreUnavailable`` when the database cannot be reached.
        """
        await (await self._connect()).close()
        if self._engine.dialect.name == "sqlite":
            await self._use_wal()
        async with self._writer.begin() as connection:
            if connection.dialect.name == "postgresql":  # replicas starting together take turns
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            await connection.run_sync(_upgrade)

    async def _use_wal(self) -> None:
        """Put the SQLite file in WAL mode, where readers never wait for the writer.

        The mode belongs to the file, so once is enough. Switching needs the file to itself, and
        SQLite refuses at once (no busy wait) while another replica holds it: wait, try again.
        """
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
        async with self._engine.connect() as connection:
            # The driver's own connection: outside any transaction, which the switch refuses.
            sqlite_connection = (await connection.get_raw_connection()).driver_connection
            assert sqlite_connection is not None
            while True:
                try:
                    await (await sqlite_connection.execute("PRAGMA journal_mode=WAL")).close()
                    return
                except sqlite3.OperationalError as e:
                    if "locked" not in str(e) or time.monotonic() > deadline:
                        raise
                await asyncio.sleep(0.05)

    async def record(self, event: Recorded, delivered: DeliveredAs | None = None) -> bool:
        """Apply ``event`` once: False if its message was handled before (nothing changed)."""
        (applied,) = await self.record_many([event], [delivered])
        return applied

    async def record_many(
        self,
        events: Sequence[Recorded],
        delivered: Sequence[DeliveredAs | None] | None = None,
    ) -> list[bool]:
        """Apply each event once, in order, all in one transaction, and index the task events:
        for each, whether it had an effect (False for a message handled before, here or in an
        earlier call). ``delivered`` says how each arrived (the consumer's
        ``DeliveryInfo.facts()``): what the index keeps beside the event.

        The same as ``record`` for each in turn: the inbox claims each message once (by its
        ``dedup_key``: a replayed copy is claimed once per replay run), and the upserts run one
        per claimed event in their order, so the newest snapshot wins however the events were
        ordered or grouped. Tasks and assets each keep their own table.
        """
        if not events:
            return []
        records = [record_of_event(each) for each in events]
        facts = list(delivered) if delivered is not None else [None] * len(events)
        keys = [dedup_key(each.id, fact) for each, fact in zip(events, facts, strict=True)]
        first: dict[str, int] = {}  # each message's first event here; the rest are copies
        for index, key in enumerate(keys):
            first.setdefault(key, index)
        now = now_ms()
        # Rows are locked in one order (message ids, then task ids; each task's events keep
        # theirs), so two replicas writing overlapping batches wait for each other, not deadlock.
        claims = sorted(
            (
                {"message_id": keys[i], "task_id": records[i].id, "handled_at": now}
                for i in first.values()
            ),
            key=lambda claim: str(claim["message_id"]),
        )
        async with self._writer.begin() as connection:
            claimed = set((await connection.execute(self._claim, claims)).scalars())
            applied = [i for i in first.values() if keys[i] in claimed]
            for kind, statement in self._upserts.items():
                upserts = sorted(
                    (
                        asdict(records[i]) | {"recorded_at": now}
                        for i in applied
                        if type(records[i]) is kind
                    ),
                    key=lambda upsert: upsert["id"],  # stable: a task's own order stays
                )
                if upserts:  # the driver's executemany: one statement per event, in order
                    await connection.execute(statement, upserts)
            # The event index holds task events (taskhook history); assets keep their state.
            rows = sorted(
                (
                    index_row(task_event, facts[i], indexed_at_ms=now)
                    for i in applied
                    if isinstance(task_event := events[i], PublishedTaskEvent)
                ),
                key=lambda row: str(row["id"]),
            )
            if rows:
                await connection.execute(self.events.insert, rows)
        return [first[key] == i and key in claimed for i, key in enumerate(keys)]

    async def get(self, task_id: str) -> dict[str, Any] | None:
        """The stored row of one task, or None."""
        async with self._reading() as connection:
            row = (await connection.execute(select(tasks).where(tasks.c.id == task_id))).first()
        return dict(row._mapping) if row is not None else None

    async def find(self, query: TaskQuery) -> list[dict[str, Any]]:
        """The rows ``query`` selects, the most recently updated first."""
        statement = select(tasks).order_by(tasks.c.updated_at.desc(), tasks.c.id)
        if query.phase:
            statement = statement.where(tasks.c.phase.in_(query.phase))
        if query.type:
            statement = statement.where(tasks.c.type.in_(query.type))
        if query.updated_since is not None:
            statement = statement.where(tasks.c.updated_at >= query.updated_since)
        if query.search is not None:
            statement = statement.where(_named_by(query.search))
        statement = statement.limit(query.limit).offset(query.offset)
        async with self._reading() as connection:
            rows = (await connection.execute(statement)).all()
        return [dict(row._mapping) for row in rows]

    async def get_asset(self, asset_id: str) -> dict[str, Any] | None:
        """The stored row of one asset, or None."""
        async with self._reading() as connection:
            statement = select(assets).where(assets.c.id == asset_id)
            row = (await connection.execute(statement)).first()
        return dict(row._mapping) if row is not None else None

    async def find_assets(self, query: AssetQuery) -> list[dict[str, Any]]:
        """The asset rows ``query`` selects, the most recently updated first."""
        statement = select(assets).order_by(assets.c.updated_at.desc(), assets.c.id)
        if query.phase:
            statement = statement.where(assets.c.phase.in_(query.phase))
        if query.playback_id:
            statement = statement.where(assets.c.playback_id == query.playback_id)
        statement = statement.limit(query.limit).offset(query.offset)
        async with self._reading() as connection:
            rows = (await connection.execute(statement)).all()
        return [dict(row._mapping) for row in rows]

    async def _connect(self) -> AsyncConnection:
        """An open connection, or ``StoreUnavailable`` saying why not."""
        try:
            return await self._engine.connect()
        except (OSError, DBAPIError) as e:
            raise _unavailable(e, self._engine.url) from None

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads; a missing schema becomes ``SchemaMissing``, a database that
        cannot be reached ``StoreUnavailable``. A read never creates a SQLite file."""
        if file := _missing_sqlite_file(self._engine.url):
            raise SchemaMissing(
                f"no tasks database at {file}: start `taskhook consume tasks` once, or set "
                "TASKHOOK_DATABASE_URL to where it keeps its state"
            )
        connection = await self._connect()
        try:
            yield connection
        except DBAPIError:
            await connection.rollback()  # PostgreSQL refuses anything more in this one
            if await connection.run_sync(_has_schema):
                raise
            raise SchemaMissing(
                "the tasks consumer's tables do not exist yet (or predate the event index): "
                "start `taskhook consume tasks` once"
            ) from None
        finally:
            await connection.close()

    async def prune_inbox(self, older_than_ms: int) -> int:
        """Forget messages handled before ``older_than_ms``; returns how many rows went."""
        async with self._writer.begin() as connection:
            result = await connection.execute(
                inbox.delete().where(inbox.c.handled_at < older_than_ms)
            )
        return int(result.rowcount)


def _named_by(search: str) -> Any:
    """Tasks ``search`` names: their id, an asset id, or an event about them (the event index
    keeps every event the archive keeps, and the task row its latest)."""
    return or_(
        tasks.c.id == search,
        tasks.c.input_asset_id == search,
        tasks.c.output_asset_id == search,
        tasks.c.event_id == search,
        tasks.c.id.in_(select(event_rows.c.task_id).where(event_rows.c.id == search)),
    )


def _has_schema(connection: Connection) -> bool:
    inspector = inspect(connection)
    return all(inspector.has_table(table.name) for table in (tasks, event_rows))


def _missing_sqlite_file(url: URL) -> str | None:
    """The SQLite file ``url`` names if it does not exist (connecting would create it)."""
    file = url.database if url.get_backend_name() == "sqlite" else None
    return file if file and file != ":memory:" and not Path(file).exists() else None


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _take_over_sqlite_transactions(dbapi_connection: Any, _record: Any) -> None:
    # Python's sqlite3 begins transactions on its own, and not before DDL: a migration would
    # run outside any transaction. Begin them ourselves instead (SQLAlchemy's SQLite recipe).
    dbapi_connection.isolation_level = None


def _begin_sqlite_transaction(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
