"""Real databases for the tasks store: a SQLite file, or a fresh PostgreSQL database per test."""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

# An administrative connection; each test gets a database of its own made through it.
POSTGRES_URL = os.environ.get(
    "TASKHOOK_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


@asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """The SQLAlchemy URL of a new, empty database; dropped afterwards."""
    name = f"taskhook_test_{uuid.uuid4().hex[:12]}"
    # CREATE DATABASE cannot run inside a transaction.
    admin = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        async with admin.connect() as connection:
            await connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.dispose()
