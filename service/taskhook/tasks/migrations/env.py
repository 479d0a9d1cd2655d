"""Alembic's entry point, run on the connection ``TaskStore.migrate`` hands it (never a URL)."""

from alembic import context

from taskhook.tasks.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place; batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
