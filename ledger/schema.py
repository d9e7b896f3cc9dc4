"""The ledger's tables (SQLAlchemy Core); migrations/ creates them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from core.db import UTCDateTime

metadata = MetaData()

# At most one queued or running job per tenant and sync type, enforced by the database.
ACTIVE_WHERE = text("status IN ('queued', 'running')")
UNREPORTED_WHERE = text("outcome_reported_at IS NULL")

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant", String(63), nullable=False),
    Column("sync_type", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("sync_size", String(16), nullable=False),
    Column("chunk_size", Integer, nullable=False),
    Column("resources", Text, nullable=False, default=""),
    Column("parent_id", String(36), ForeignKey("jobs.id"), nullable=True),
    Column("flow_run_id", String(36), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("heartbeat_at", UTCDateTime, nullable=True),
    Column("error", Text, nullable=True),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("ran_as_full", Boolean, nullable=False, default=False),
    Column("totals", JSON, nullable=True),
    # A partial sync's watermark: it read the records updated since then (the earliest one).
    Column("since", UTCDateTime, nullable=True),
    # Set when the job ends: distinct records it stored, and per resource how a full sync's
    # stored count differs from the source's total at the end.
    Column("records_stored", Integer, nullable=True),
    Column("drift", JSON, nullable=True),
    # Why the run stopped its chunks when nobody cancelled it (a signal, its process exiting,
    # reconcile finding it dead): the job then ends by its chunks, incomplete or failed.
    Column("interrupted", Text, nullable=True),
    # When the settled job's outcome event and artifacts went out; NULL while due.
    Column("outcome_reported_at", UTCDateTime, nullable=True),
    Index("ix_jobs_tenant_created", "tenant", "created_at"),
    Index("ix_jobs_created", "created_at"),
    # Each job's previous job of its tenant and type; its resumes; the list by status.
    Index("ix_jobs_tenant_type_created", "tenant", "sync_type", "created_at"),
    Index("ix_jobs_parent", "parent_id"),
    Index("ix_jobs_status_created", "status", "created_at"),
    # The settled jobs whose outcome is still to report (and the active ones): a small index.
    Index(
        "ix_jobs_unreported",
        "finished_at",
        sqlite_where=UNREPORTED_WHERE,
        postgresql_where=UNREPORTED_WHERE,
    ),
    Index(
        "uq_jobs_active",
        "tenant",
        "sync_type",
        unique=True,
        sqlite_where=ACTIVE_WHERE,
        postgresql_where=ACTIVE_WHERE,
    ),
)

chunks = Table(
    "chunks",
    metadata,
    Column("job_id", String(36), primary_key=True),
    Column("index", Integer, primary_key=True),
    Column("resource", String(63), nullable=False),
    Column("offset", Integer, nullable=False),
    Column("limit", Integer, nullable=True),
    Column("updated_since", UTCDateTime, nullable=True),
    Column("status", String(16), nullable=False),
    Column("records", Integer, nullable=False, default=0),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text, nullable=True),
    Column("worker", String(255), nullable=True),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    # A completed chunk's distinct records and the ids at both ends of what it read, until
    # its resume chain completes: where a drift margin makes neighbours read the same records,
    # they are counted once (``tasks.verify.distinct_records``).
    Column("edges", JSON, nullable=True),
    ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
    # Counts and completed records per status read from the index alone.
    Index("ix_chunks_job_status_records", "job_id", "status", "records"),
)

tenant_settings = Table(
    "tenant_settings",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("sync_size", String(16), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

watermarks = Table(
    "watermarks",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("resource", String(63), primary_key=True),
    Column("planned_at", UTCDateTime, nullable=False),
    Column("job_id", String(36), nullable=False),
)
