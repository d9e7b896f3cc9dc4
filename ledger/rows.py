"""Ledger rows as the Jobs View model."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from ledger.models import Chunk, ChunkStatus, Drift, Job, JobStatus


def chunk_of(row: Row[Any]) -> Chunk:
    return Chunk(
        index=row._mapping["index"],
        resource=row.resource,
        offset=row.offset,
        limit=row.limit,
        status=ChunkStatus(row.status),
        records=row.records,
        attempts=row.attempts,
        error=row.error,
        worker=row.worker,
        started_at=row.started_at,
        finished_at=row.finished_at,
        updated_since=row.updated_since,
    )


def job_of(
    row: Row[Any],
    counts: dict[ChunkStatus, int],
    records: int,
    loaded: tuple[Chunk, ...] | None,
    children: tuple[str, ...],
) -> Job:
    return Job(
        id=row.id,
        tenant=row.tenant,
        sync_type=row.sync_type,
        status=JobStatus(row.status),
        sync_size=row.sync_size,
        chunk_size=row.chunk_size,
        created_at=row.created_at,
        resources=tuple(r for r in row.resources.split(",") if r),
        parent_id=row.parent_id,
        flow_run_id=row.flow_run_id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        heartbeat_at=row.heartbeat_at,
        error=row.error,
        cancel_requested=bool(row.cancel_requested),
        interrupted=row.interrupted,
        outcome_reported=row.outcome_reported_at is not None,
        ran_as_full=bool(row.ran_as_full),
        totals=row.totals,
        since=row.since,
        # Summed over chunks while the job runs; once it ends, what it really stored.
        records_synced=records if row.records_stored is None else row.records_stored,
        drift=(
            {r: Drift(d["stored"], d["source"]) for r, d in row.drift.items()}
            if row.drift is not None
            else None
        ),
        counts=counts,
        chunks=loaded,
        resumed_by=children,
    )
