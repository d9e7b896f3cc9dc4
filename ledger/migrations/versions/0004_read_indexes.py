"""Indexes for the Jobs View's reads: each job's previous job and resumes, jobs by status, and
chunk counts per job read from the index alone.

Revision ID: 0004_read_indexes
Revises: 0003_job_checks
Create Date: 2026-11-30
"""

from alembic import op

revision = "0004_read_indexes"
down_revision = "0003_job_checks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_tenant_type_created", "jobs", ["tenant", "sync_type", "created_at"])
    op.create_index("ix_jobs_parent", "jobs", ["parent_id"])
    op.create_index("ix_jobs_status_created", "jobs", ["status", "created_at"])
    # Counts and completed records per status, without reading the chunks themselves.
    op.create_index("ix_chunks_job_status_records", "chunks", ["job_id", "status", "records"])
    op.drop_index("ix_chunks_job_status", table_name="chunks")


def downgrade() -> None:
    op.create_index("ix_chunks_job_status", "chunks", ["job_id", "status"])
    op.drop_index("ix_chunks_job_status_records", table_name="chunks")
    op.drop_index("ix_jobs_status_created", table_name="jobs")
    op.drop_index("ix_jobs_parent", table_name="jobs")
    op.drop_index("ix_jobs_tenant_type_created", table_name="jobs")
