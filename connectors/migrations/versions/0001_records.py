"""The destination's records table.

Revision ID: 0001_records
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from core.db import UTCDateTime

revision = "0001_records"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("tenant", sa.String(63), primary_key=True),
        sa.Column("resource", sa.String(63), primary_key=True),
        sa.Column("record_id", sa.String(255), primary_key=True),
        sa.Column("updated_at", UTCDateTime, nullable=True),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("synced_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("records")
