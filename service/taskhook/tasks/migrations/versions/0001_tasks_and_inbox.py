"""The tasks table and the inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("phase_rank", sa.Integer, nullable=False),
        sa.Column("progress", sa.Float),
        sa.Column("error_message", sa.Text),
        sa.Column("retries", sa.Integer),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger),
        sa.Column("scheduled_at", sa.BigInteger),
        sa.Column("input_asset_id", sa.String(128)),
        sa.Column("output_asset_id", sa.String(128)),
        sa.Column("project_id", sa.String(128)),
        sa.Column("output", sa.JSON),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("recorded_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_tasks_phase_updated_at", "tasks", ["phase", "updated_at"])
    op.create_index("ix_tasks_updated_at", "tasks", ["updated_at"])
    op.create_table(
        "inbox",
        sa.Column("message_id", sa.String(128), primary_key=True),
        sa.Column("task_id", sa.String(128), nullable=False),
        sa.Column("handled_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_inbox_handled_at", "inbox", ["handled_at"])


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_table("tasks")
