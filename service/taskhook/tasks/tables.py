"""The ``tasks`` consumer's tables. Migrations (``migrations/versions``) must produce exactly these;
a test compares the two."""

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("phase", String(16), nullable=False),
    # Orders two snapshots with the same updated_at (see taskhook.tasks.records).
    Column("phase_rank", Integer, nullable=False),
    Column("progress", Float),
    Column("error_message", Text),
    Column("retries", Integer),
    Column("updated_at", BigInteger, nullable=False),
    Column("created_at", BigInteger),
    Column("scheduled_at", BigInteger),
    Column("input_asset_id", String(128)),
    Column("output_asset_id", String(128)),
    Column("project_id", String(128)),
    Column("output", JSON),
    Column("event_id", String(128), nullable=False),
    Column("recorded_at", BigInteger, nullable=False),
    Index("ix_tasks_phase_updated_at", "phase", "updated_at"),
    Index("ix_tasks_updated_at", "updated_at"),
)

# One row per message handled: inserting it in the same transaction as the state change is what
# makes a redelivered message a no-op. Rows older than the inbox retention are pruned.
inbox = Table(
    "inbox",
    metadata,
    Column("message_id", String(128), primary_key=True),
    Column("task_id", String(128), nullable=False),
    Column("handled_at", BigInteger, nullable=False),
    Index("ix_inbox_handled_at", "handled_at"),
)

# The event index (taskhook.history): one row per event, for `taskhook history` and the console.
# Found by task (the lookup that must stay fast at a million rows), by event id (the key), and
# by when taskhook received it (windows, and pruning as the archive's retention goes by).
events = Table(
    "events",
    metadata,
    Column("id", String(128), primary_key=True),  # the Livepeer event id, also the message_id
    Column("event", String(64), nullable=False),
    Column("task_id", String(128)),
    Column("task_type", String(32)),
    Column("phase", String(16)),
    Column("rank", Integer, nullable=False),  # orders equal updatedAt (history.query)
    Column("progress", Float),
    Column("updated_at", BigInteger, nullable=False),  # status.updatedAt: the timeline's order
    Column("received_at", BigInteger, nullable=False),
    Column("routing_key", String(255), nullable=False),
    Column("reconciled", String(255)),
    Column("replayed", String(64)),
    Column("indexed_at", BigInteger, nullable=False),
    Index("ix_events_task_id_updated_at", "task_id", "updated_at"),
    Index("ix_events_received_at", "received_at"),
)
