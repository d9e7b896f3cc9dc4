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
    Index("ix_jobs_tenant_created", "tenant", "created_at"),
    Index("ix_jobs_created", "created_at"),
    # Each job's previous job of its tenant and type; its resumes; the list by status.
    Index("ix_jobs_tenant_type_created", "tenant", "sync_type", "created_at"),
    Index("ix_jobs_parent", "parent_id"),
    Index("ix_jobs_status_created", "status", "created_at"),
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
