"""What a finished job stored (distinct records) and how that differs from the source (drift).

Revision ID: 0003_job_checks
Revises: 0002_job_totals
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_job_checks"
down_revision = "0002_job_totals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("records_stored", sa.Integer, nullable=True))
        batch.add_column(sa.Column("drift", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("drift")
        batch.drop_column("records_stored")
