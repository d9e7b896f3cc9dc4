"""The Jobs ledger: jobs, chunks, tenant settings and watermarks.

Revision ID: 0001_ledger
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from core.db import UTCDateTime

revision = "0001_ledger"
down_revision = None
branch_labels = None
depends_on = None

ACTIVE_WHERE = sa.text("status IN ('queued', 'running')")


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("sync_type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sync_size", sa.String(16), nullable=False),
        sa.Column("chunk_size", sa.Integer, nullable=False),
        sa.Column("resources", sa.Text, nullable=False, server_default=""),
        sa.Column("parent_id", sa.String(36), sa.ForeignKey("jobs.id"), nullable=True),
        sa.Column("flow_run_id", sa.String(36), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=True),
        sa.Column("finished_at", UTCDateTime, nullable=True),
        sa.Column("heartbeat_at", UTCDateTime, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("ran_as_full", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_jobs_tenant_created", "jobs", ["tenant", "created_at"])
    op.create_index("ix_jobs_created", "jobs", ["created_at"])
    op.create_index(
        "uq_jobs_active",
        "jobs",
        ["tenant", "sync_type"],
        unique=True,
        sqlite_where=ACTIVE_WHERE,
        postgresql_where=ACTIVE_WHERE,
    )
    op.create_table(
        "chunks",
        sa.Column(
            "job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("index", sa.Integer, primary_key=True),
        sa.Column("resource", sa.String(63), nullable=False),
        sa.Column("offset", sa.Integer, nullable=False),
        sa.Column("limit", sa.Integer, nullable=True),
        sa.Column("updated_since", UTCDateTime, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("records", sa.Integer, nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("worker", sa.String(255), nullable=True),
        sa.Column("started_at", UTCDateTime, nullable=True),
        sa.Column("finished_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_chunks_job_status", "chunks", ["job_id", "status"])
    op.create_table(
        "tenant_settings",
        sa.Column("tenant", sa.String(63), primary_key=True),
        sa.Column("sync_size", sa.String(16), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "watermarks",
        sa.Column("tenant", sa.String(63), primary_key=True),
        sa.Column("resource", sa.String(63), primary_key=True),
        sa.Column("planned_at", UTCDateTime, nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("watermarks")
    op.drop_table("tenant_settings")
    op.drop_table("chunks")
    op.drop_table("jobs")
