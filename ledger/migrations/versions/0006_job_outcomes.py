"""Why a run stopped its chunks without a cancel, when a job's outcome was reported, and
each completed chunk's edges (its count of records, and the ids at both ends of its read).

Jobs settled before this revision count as reported: their events went out (or never will).

Revision ID: 0006_job_outcomes
Revises: 0005_job_since
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from core.db import UTCDateTime

revision = "0006_job_outcomes"
down_revision = "0005_job_since"
branch_labels = None
depends_on = None

UNREPORTED = sa.text("outcome_reported_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("interrupted", sa.Text, nullable=True))
        batch.add_column(sa.Column("outcome_reported_at", UTCDateTime, nullable=True))
    with op.batch_alter_table("chunks") as batch:
        batch.add_column(sa.Column("edges", sa.JSON, nullable=True))
    op.execute(
        "UPDATE jobs SET outcome_reported_at = finished_at "
        "WHERE status NOT IN ('queued', 'running')"
    )
    op.create_index(
        "ix_jobs_unreported",
        "jobs",
        ["finished_at"],
        sqlite_where=UNREPORTED,
        postgresql_where=UNREPORTED,
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_unreported", table_name="jobs")
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("edges")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("outcome_reported_at")
        batch.drop_column("interrupted")
