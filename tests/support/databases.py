"""Real databases for the tasks store: a SQLite file, or a fresh PostgreSQL database per test."""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url

# An administrative connection; each test gets a database of its own made through it.
POSTGRES_URL = os.environ.get(
    "TASKHOOK_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


@asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """The SQLAlchemy URL of a new, empty database; dropped afterwards."""
    admin = make_url(POSTGRES_URL)
    name = f"taskhook_test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(admin.set(drivername="postgresql").render_as_string(False))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
        yield admin.set(database=name).render_as_string(hide_password=False)
        await connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await connection.close()
