"""Reading the ledger: jobs with their chunks and counts, as every view shows them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select

from core.db import retry_db
from core.errors import InvalidInputError, JobNotFoundError
from ledger.models import (
    ACTIVE_JOB_STATUSES,
    Chunk,
    ChunkStatus,
    Drift,
    Job,
    JobStatus,
    empty_counts,
)
from ledger.schema import chunks, jobs
from ledger.tenants import TenantStore

JOB_REF = re.compile(r"^[0-9a-f-]{4,36}$")
ACTIVE = [s.value for s in ACTIVE_JOB_STATUSES]


class LedgerReader(TenantStore):
    """The read side of ``Ledger``."""

    @retry_db
    def stop_reason(self, job_id: str) -> str | None:
        """Why the job's chunks should stop, or None to go on."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(jobs.c.cancel_requested, jobs.c.error).where(jobs.c.id == job_id)
            ).one()
        if row.cancel_requested:
            return "cancel requested"
        return row.error

    @retry_db
    def get_chunk(self, job_id: str, index: int) -> Chunk:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(chunks).where(chunks.c.job_id == job_id, chunks.c.index == index)
            ).one_or_none()
        if row is None:
            raise JobNotFoundError(f"{job_id} chunk {index}")
        return _chunk(row)

    # -- reading ----------------------------------------------------------

    @retry_db
    def resolve_id(self, ref: str) -> str:
        """A full job id from an id or a unique prefix of one."""
        ref = ref.strip().lower()
        # Anything but hex and dashes names no job, and never reaches the database
        # (PostgreSQL rejects a NUL byte in a parameter with an error).
        if not JOB_REF.fullmatch(ref):
            raise JobNotFoundError(ref)
        with self.engine.connect() as conn:
            if conn.execute(select(jobs.c.id).where(jobs.c.id == ref)).first():
                return ref
            ids = (
                conn.execute(select(jobs.c.id).where(jobs.c.id.like(f"{ref}%")).limit(5))
                .scalars()
                .all()
            )
        if not ids:
            raise JobNotFoundError(ref)
        if len(ids) > 1:
            raise InvalidInputError(f"job prefix {ref!r} is ambiguous: {', '.join(ids)}, ...")
        return ids[0]

    @retry_db
    def get_job(self, ref: str, *, with_chunks: bool = True) -> Job:
        job_id = self.resolve_id(ref)
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).one()
            chunk_rows = (
                conn.execute(
                    select(chunks).where(chunks.c.job_id == job_id).order_by(chunks.c.index)
                ).all()
                if with_chunks
                else None
            )
            children = (
                conn.execute(
                    select(jobs.c.id).where(jobs.c.parent_id == job_id).order_by(jobs.c.created_at)
                )
                .scalars()
                .all()
            )
            if chunk_rows is not None:
                loaded = tuple(_chunk(r) for r in chunk_rows)
                counts = empty_counts()
                for c in loaded:
                    counts[c.status] += 1
                records = sum(c.records for c in loaded if c.status is ChunkStatus.COMPLETED)
                return _job(row, counts, records, loaded, tuple(children))
            counts_by_job = self._counts(conn, [job_id])
        counts, records = counts_by_job.get(job_id, (empty_counts(), 0))
        return _job(row, counts, records, None, tuple(children))

    @retry_db
    def list_jobs(
        self,
        *,
        tenant: str | None = None,
        status: JobStatus | None = None,
        sync_type: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Job]:
        """Newest first, without chunks."""
        query = (
            select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.id).limit(limit).offset(offset)
        )
        if since:
            query = query.where(jobs.c.created_at >= since)
        if tenant:
            query = query.where(jobs.c.tenant == tenant)
        if status:
            query = query.where(jobs.c.status == status.value)
        if sync_type:
            query = query.where(jobs.c.sync_type == sync_type)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            counts_by_job = self._counts(conn, [r.id for r in rows])
        result = []
        for row in rows:
            counts, records = counts_by_job.get(row.id, (empty_counts(), 0))
            result.append(_job(row, counts, records, None, ()))
        return result

    @retry_db
    def status_counts(self, tenant: str | None = None) -> dict[JobStatus, int]:
        """How many jobs are in each status (for the jobs list's header)."""
        query = select(jobs.c.status, func.count()).group_by(jobs.c.status)
        if tenant:
            query = query.where(jobs.c.tenant == tenant)
        with self.engine.connect() as conn:
            found: dict[str, int] = dict(conn.execute(query).tuples().all())
        return {status: found.get(status.value, 0) for status in JobStatus}

    @retry_db
    def tenants(self) -> list[str]:
        """Every tenant with a job or a stored setting."""
        with self.engine.connect() as conn:
            seen = set(conn.execute(select(jobs.c.tenant).distinct()).scalars())
        return sorted(seen | set(self.tenant_sync_sizes()))

    @retry_db
    def active_jobs(self, tenant: str | None = None, sync_type: str | None = None) -> list[Job]:
        query = select(jobs.c.id).where(jobs.c.status.in_(ACTIVE))
        if tenant:
            query = query.where(jobs.c.tenant == tenant)
        if sync_type:
            query = query.where(jobs.c.sync_type == sync_type)
        with self.engine.connect() as conn:
            ids = conn.execute(query).scalars().all()
        return [self.get_job(job_id, with_chunks=False) for job_id in ids]

    @retry_db
    def active_job(self, tenant: str, sync_type: str) -> Job | None:
        with self.engine.connect() as conn:
            job_id = conn.execute(
                select(jobs.c.id).where(
                    jobs.c.tenant == tenant,
                    jobs.c.sync_type == sync_type,
                    jobs.c.status.in_(ACTIVE),
                )
            ).scalar()
        return None if job_id is None else self.get_job(job_id, with_chunks=False)

    @retry_db
    def previous_job(self, tenant: str, sync_type: str, *, before: str | None = None) -> Job | None:
        """The newest job of this tenant and type created before job ``before`` (if it exists)."""
        query = (
            select(jobs.c.id)
            .where(jobs.c.tenant == tenant, jobs.c.sync_type == sync_type)
            .order_by(jobs.c.created_at.desc(), jobs.c.id)
            .limit(1)
        )
        with self.engine.connect() as conn:
            if before:
                anchor = conn.execute(select(jobs.c.created_at).where(jobs.c.id == before)).scalar()
                query = query.where(jobs.c.id != before)
                if anchor is not None:
                    query = query.where(jobs.c.created_at <= anchor)
            job_id = conn.execute(query).scalar()
        return None if job_id is None else self.get_job(job_id, with_chunks=False)

    @staticmethod
    def _counts(conn: Any, job_ids: Iterable[str]) -> dict[str, tuple[dict[ChunkStatus, int], int]]:
        ids = list(job_ids)
        if not ids:
            return {}
        completed_records = func.sum(chunks.c.records).filter(
            chunks.c.status == ChunkStatus.COMPLETED.value
        )
        rows = conn.execute(
            select(chunks.c.job_id, chunks.c.status, func.count(), completed_records)
            .where(chunks.c.job_id.in_(ids))
            .group_by(chunks.c.job_id, chunks.c.status)
        ).all()
        result: dict[str, tuple[dict[ChunkStatus, int], int]] = {}
        for job_id, status, count, records in rows:
            counts, total = result.get(job_id, (empty_counts(), 0))
            counts[ChunkStatus(status)] = count
            result[job_id] = (counts, total + (records or 0))
        return result


def _chunk(row: Row[Any]) -> Chunk:
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


def _job(
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
        ran_as_full=bool(row.ran_as_full),
        totals=row.totals,
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
