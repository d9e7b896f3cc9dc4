"""Reading the ledger: jobs with their chunks and counts, as every view shows them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from core.db import retry_db
from core.errors import ChunkNotFoundError, InvalidInputError, JobNotFoundError
from ledger.chunk_reads import ChunkReader
from ledger.models import (
    ACTIVE_JOB_STATUSES,
    Chunk,
    ChunkStatus,
    Job,
    JobStatus,
    empty_counts,
)
from ledger.rows import chunk_of, job_of
from ledger.schema import chunks, jobs

# A completed chunk's counted records and its edges (``tasks.verify.chunk_edges``), or None.
ChunkEdges = tuple[int, Mapping[str, Any] | None]
JOB_REF = re.compile(r"^[0-9a-f-]{4,36}$")
ACTIVE = [s.value for s in ACTIVE_JOB_STATUSES]


class LedgerReader(ChunkReader):
    """The read side of ``Ledger``."""

    @retry_db
    def stop_reason(self, job_id: str) -> str | None:
        """Why the job's chunks should stop, or None to go on."""
        with self.reader.connect() as conn:
            row = conn.execute(
                select(
                    jobs.c.status, jobs.c.cancel_requested, jobs.c.interrupted, jobs.c.error
                ).where(jobs.c.id == job_id)
            ).one()
        if row.cancel_requested:
            return "cancel requested"
        if row.status not in ACTIVE:
            return f"the job was settled as {row.status}"
        return row.interrupted or row.error

    @retry_db
    def completed_edges(self, job_ids: Sequence[str]) -> dict[str, list[ChunkEdges]]:
        """Per resource, in index order, the edges of these jobs' (a resume chain's) completed
        chunks: ``(records, edges)``, edges None for a chunk completed before they were kept."""
        query = (
            select(chunks.c.resource, chunks.c.records, chunks.c.edges)
            .where(
                chunks.c.job_id.in_(list(job_ids)),
                chunks.c.status == ChunkStatus.COMPLETED.value,
            )
            .order_by(chunks.c.resource, chunks.c.index)
        )
        found: dict[str, list[ChunkEdges]] = {}
        with self.reader.connect() as conn:
            for resource, records, edges in conn.execute(query).tuples():
                found.setdefault(resource, []).append((records, edges))
        return found

    @retry_db
    def get_chunk(self, job_id: str, index: int) -> Chunk:
        with self.reader.connect() as conn:
            row = conn.execute(
                select(chunks).where(chunks.c.job_id == job_id, chunks.c.index == index)
            ).one_or_none()
        if row is None:
            raise ChunkNotFoundError(job_id, index)
        return chunk_of(row)

    # -- reading ----------------------------------------------------------

    @retry_db
    def resolve_id(self, ref: str) -> str:
        """A full job id from an id or a unique prefix of one."""
        ref = ref.strip().lower()
        # Anything but hex and dashes names no job, and never reaches the database
        # (PostgreSQL rejects a NUL byte in a parameter with an error).
        if not JOB_REF.fullmatch(ref):
            raise JobNotFoundError(ref)
        with self.reader.connect() as conn:
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
    def get_job(
        self,
        ref: str,
        *,
        with_chunks: bool = True,
        chunk_offset: int = 0,
        chunk_limit: int | None = None,
        chunk_status: ChunkStatus | None = None,
    ) -> Job:
        """One job; with its chunks in index order: all of them, or the page ``chunk_offset``,
        ``chunk_limit`` of those in ``chunk_status`` (any if None). Counts cover every chunk."""
        job_id = self.resolve_id(ref)
        paged = chunk_offset or chunk_limit is not None or chunk_status is not None
        with self.reader.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).one()
            children = tuple(
                conn.execute(
                    select(jobs.c.id).where(jobs.c.parent_id == job_id).order_by(jobs.c.created_at)
                ).scalars()
            )
            query = select(chunks).where(chunks.c.job_id == job_id).order_by(chunks.c.index)
            if with_chunks and not paged:
                loaded = tuple(chunk_of(r) for r in conn.execute(query))
                counts = empty_counts()
                for c in loaded:
                    counts[c.status] += 1
                records = sum(c.records for c in loaded if c.status is ChunkStatus.COMPLETED)
                return job_of(row, counts, records, loaded, children)
            counts, records = self._counts(conn, [job_id]).get(job_id, (empty_counts(), 0))
            page = None
            if with_chunks:
                if chunk_status is not None:
                    query = query.where(chunks.c.status == chunk_status.value)
                query = query.offset(chunk_offset).limit(chunk_limit)
                page = tuple(chunk_of(r) for r in conn.execute(query))
        return job_of(row, counts, records, page, children)

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
        with self.reader.connect() as conn:
            return self._load_jobs(conn, query)

    @retry_db
    def status_counts(self, tenant: str | None = None) -> dict[JobStatus, int]:
        """How many jobs are in each status (for the jobs list's header)."""
        query = select(jobs.c.status, func.count()).group_by(jobs.c.status)
        if tenant:
            query = query.where(jobs.c.tenant == tenant)
        with self.reader.connect() as conn:
            found: dict[str, int] = dict(conn.execute(query).tuples().all())
        return {status: found.get(status.value, 0) for status in JobStatus}

    @retry_db
    def tenants(self) -> list[str]:
        """Every tenant with a job or a stored setting."""
        with self.reader.connect() as conn:
            seen = set(conn.execute(select(jobs.c.tenant).distinct()).scalars())
        return sorted(seen | set(self.tenant_sync_sizes()))

    @retry_db
    def active_jobs(self, tenant: str | None = None, sync_type: str | None = None) -> list[Job]:
        query = select(jobs.c.id).where(jobs.c.status.in_(ACTIVE))
        if tenant:
            query = query.where(jobs.c.tenant == tenant)
        if sync_type:
            query = query.where(jobs.c.sync_type == sync_type)
        with self.reader.connect() as conn:
            ids = conn.execute(query).scalars().all()
        return [self.get_job(job_id, with_chunks=False) for job_id in ids]

    @retry_db
    def active_job(self, tenant: str, sync_type: str) -> Job | None:
        with self.reader.connect() as conn:
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
        with self.reader.connect() as conn:
            if before:
                anchor = conn.execute(select(jobs.c.created_at).where(jobs.c.id == before)).scalar()
                query = query.where(jobs.c.id != before)
                if anchor is not None:
                    query = query.where(jobs.c.created_at <= anchor)
            job_id = conn.execute(query).scalar()
        return None if job_id is None else self.get_job(job_id, with_chunks=False)

    @retry_db
    def previous_jobs(self, job_ids: Sequence[str]) -> dict[str, Job]:
        """``previous_job(before=id)`` for each of ``job_ids`` that has one, in three queries
        whatever their number (without ``resumed_by``, as ``list_jobs`` gives jobs)."""
        if not job_ids:
            return {}
        prev = jobs.alias("prev")
        newest_before = (
            select(prev.c.id)
            .where(
                prev.c.tenant == jobs.c.tenant,
                prev.c.sync_type == jobs.c.sync_type,
                prev.c.created_at <= jobs.c.created_at,
                prev.c.id != jobs.c.id,
            )
            .order_by(prev.c.created_at.desc(), prev.c.id)
            .limit(1)
            .correlate(jobs)
            .scalar_subquery()
        )
        with self.reader.connect() as conn:
            pairs = conn.execute(
                select(jobs.c.id, newest_before).where(jobs.c.id.in_(job_ids))
            ).all()
            wanted = {p for _, p in pairs if p is not None}
            loaded = {
                j.id: j for j in self._load_jobs(conn, select(jobs).where(jobs.c.id.in_(wanted)))
            }
        return {job_id: loaded[p] for job_id, p in pairs if p in loaded}

    def _load_jobs(self, conn: Any, query: Any) -> list[Job]:
        """The jobs ``query`` selects, with their counts (one grouped query), without chunks."""
        rows = conn.execute(query).all()
        counts_by_job = self._counts(conn, [r.id for r in rows])
        result = []
        for row in rows:
            counts, records = counts_by_job.get(row.id, (empty_counts(), 0))
            result.append(job_of(row, counts, records, None, ()))
        return result

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
