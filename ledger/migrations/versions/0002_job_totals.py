"""Planned record totals per resource, so Settings can say what other sizes would give.

Revision ID: 0002_job_totals
Revises: 0001_ledger
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_job_totals"
down_revision = "0001_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("totals", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("totals")
