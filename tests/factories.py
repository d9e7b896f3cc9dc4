"""Plain factory functions for test data."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from ledger.models import ChunkStatus, Job, JobStatus, empty_counts
from ledger.store import Ledger


def make_job(status: str = "completed", **overrides: Any) -> Job:
    counts = empty_counts()
    counts[ChunkStatus.COMPLETED] = 2 if status in ("completed", "incomplete") else 0
    counts[ChunkStatus.FAILED] = 1 if status in ("incomplete", "failed") else 0
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "tenant": "acme",
        "sync_type": "full",
        "status": JobStatus(status),
        "sync_size": "small",
        "chunk_size": 100,
        "created_at": datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
        "resources": ("contacts", "deals"),
        "counts": counts,
        "records_synced": 200,
    }
    values.update(overrides)
    return Job(**values)


def make_items(n: int, start: int = 0, **fields: Any) -> list[dict[str, Any]]:
    return [
        {"id": i, "updated_at": f"2026-01-01T00:00:{i % 60:02d}+00:00", "name": f"r{i}", **fields}
        for i in range(start, start + n)
    ]


def unique(prefix: str) -> str:
    """A tenant name of its own: the Prefect server, and its artifact keys, span the session."""
    return f"{prefix}_{uuid.uuid4().hex[:6]}"


def queued_job(
    ledger: Ledger,
    tenant: str = "acme",
    *,
    sync_type: str = "full",
    resources: tuple[str, ...] = ("contacts",),
    **kw: Any,
) -> Job:
    """A job as a run claims it: queued, Sync Size small, no chunks planned yet."""
    return ledger.create_job(
        job_id=str(uuid.uuid4()),
        tenant=tenant,
        sync_type=sync_type,
        sync_size="small",
        chunk_size=100,
        resources=resources,
        **kw,
    )
