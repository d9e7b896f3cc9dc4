"""The watermark a partial sync read from, so an empty one can say since when nothing changed.

Revision ID: 0005_job_since
Revises: 0004_read_indexes
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from core.db import UTCDateTime

revision = "0005_job_since"
down_revision = "0004_read_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("since", UTCDateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("since")
