"""The assets table: the latest state of each asset, beside the tasks.

Revision ID: 0003
Revises: 0002 (the event index; this one was written beside it and chained after it at merge)
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("phase_rank", sa.Integer, nullable=False),
        sa.Column("progress", sa.Float),
        sa.Column("error_message", sa.Text),
        sa.Column("playback_id", sa.String(128)),
        sa.Column("name", sa.Text),
        sa.Column("project_id", sa.String(128)),
        sa.Column("source_type", sa.String(32)),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger),
        sa.Column("outputs", sa.JSON),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("recorded_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_assets_phase_updated_at", "assets", ["phase", "updated_at"])
    op.create_index("ix_assets_updated_at", "assets", ["updated_at"])
    op.create_index("ix_assets_playback_id", "assets", ["playback_id"])


def downgrade() -> None:
    op.drop_table("assets")
