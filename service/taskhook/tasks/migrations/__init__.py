"""Alembic migrations of the ``tasks`` consumer's database, run by ``TaskStore.migrate``."""
