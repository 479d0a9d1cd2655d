"""The event index: one row per event the tasks consumer handled (taskhook history).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("task_id", sa.String(128)),
        sa.Column("task_type", sa.String(32)),
        sa.Column("phase", sa.String(16)),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("progress", sa.Float),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.Column("routing_key", sa.String(255), nullable=False),
        sa.Column("reconciled", sa.String(255)),
        sa.Column("replayed", sa.String(64)),
        sa.Column("indexed_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_events_task_id_updated_at", "events", ["task_id", "updated_at"])
    op.create_index("ix_events_received_at", "events", ["received_at"])


def downgrade() -> None:
    op.drop_table("events")
