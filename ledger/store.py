"""The SQLAlchemy ledger: jobs and chunks, as the Jobs View reads them."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from chunking import ChunkWindow
from core.db import get_engine, retry_db, utcnow
from core.errors import JobConflictError, JobIdTakenError, JobNotFoundError, JobStateError
from core.migrate import LEDGER_SETTING, migrate
from ledger.chunk_writes import ChunkWriter
from ledger.models import (
    ChunkStatus,
    Drift,
    Job,
    JobStatus,
)
from ledger.reads import ACTIVE, LedgerReader
from ledger.schema import chunks, jobs
from ledger.tenants import TenantWriter

_ANY_BEAT: Any = object()  # ``interrupt`` without a heartbeat condition


class Ledger(LedgerReader, TenantWriter, ChunkWriter):
    """Jobs, chunks, tenant settings and watermarks in one database."""

    def __init__(self, engine: Engine) -> None:
        migrate(engine, "ledger:migrations", "jobsview_ledger_version", setting=LEDGER_SETTING)
        super().__init__(engine)

    # -- jobs -------------------------------------------------------------

    @retry_db
    def create_job(
        self,
        *,
        job_id: str,
        tenant: str,
        sync_type: str,
        sync_size: str,
        chunk_size: int,
        resources: Sequence[str],
        parent_id: str | None = None,
    ) -> Job:
        """Claim a queued job; refused while another is queued or running (race-free)."""
        values = {
            "id": job_id,
            "tenant": tenant,
            "sync_type": sync_type,
            "status": JobStatus.QUEUED.value,
            "sync_size": sync_size,
            "chunk_size": chunk_size,
            "resources": ",".join(resources),
            "parent_id": parent_id,
            "created_at": utcnow(),
            "cancel_requested": False,
            "ran_as_full": False,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(jobs).values(**values))
        except IntegrityError:
            blocking = self.active_job(tenant, sync_type)
            if blocking is None:
                raise JobIdTakenError(job_id) from None
            raise JobConflictError(tenant, sync_type, blocking.id) from None
        return self.get_job(job_id)

    def claim_resume(self, parent: Job, job_id: str) -> Job:
        """Claim a queued job shaped like ``parent`` (same tenant, type, size), linked to it."""
        return self.create_job(
            job_id=job_id,
            tenant=parent.tenant,
            sync_type=parent.sync_type,
            sync_size=parent.sync_size,
            chunk_size=parent.chunk_size,
            resources=parent.resources,
            parent_id=parent.id,
        )

    @retry_db
    def adopt_queued(self, job_id: str, tenant: str, sync_type: str) -> Job | None:
        """A job claimed ahead of its run (by the web API), now picked up by that run."""
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).one_or_none()
            has_chunks = conn.execute(
                select(chunks.c.index).where(chunks.c.job_id == job_id)
            ).first()
        if row is None:
            return None
        if (row.status, row.tenant, row.sync_type) != (
            JobStatus.QUEUED.value,
            tenant,
            sync_type,
        ) or has_chunks:
            raise JobIdTakenError(job_id)
        return self.get_job(job_id, with_chunks=False)

    @retry_db
    def adopt(self, job_id: str, flow_run_id: str) -> bool:
        """A queued job taken by its flow run, with a first beat; False if it was settled
        meanwhile (reconcile took the run for dead), so the run leaves it alone."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == JobStatus.QUEUED.value)
                .values(flow_run_id=flow_run_id, heartbeat_at=utcnow())
            )
        return bool(done.rowcount)

    @retry_db
    def add_chunks(
        self,
        job_id: str,
        windows: Sequence[ChunkWindow],
        updated_since: Mapping[str, datetime | None],
    ) -> None:
        """Record a queued job's planned chunks; ``JobStateError`` if it was settled meanwhile."""
        rows = [
            {
                "job_id": job_id,
                "index": w.index,
                "resource": w.resource,
                "offset": w.offset,
                "limit": w.limit,
                "updated_since": updated_since.get(w.resource),
                "status": ChunkStatus.PENDING.value,
                "records": 0,
                "attempts": 0,
            }
            for w in windows
        ]
        with self.engine.begin() as conn:
            self._update_queued(conn, job_id, heartbeat_at=utcnow())  # planning is alive
            if rows:
                conn.execute(insert(chunks), rows)

    @retry_db
    def update_job(self, job_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))

    @retry_db
    def mark_running(self, job_id: str, *, ran_as_full: bool) -> None:
        """Mark a planned job running; ``JobStateError`` if it is no longer queued."""
        now = utcnow()
        with self.engine.begin() as conn:
            self._update_queued(
                conn,
                job_id,
                status=JobStatus.RUNNING.value,
                started_at=now,
                heartbeat_at=now,
                ran_as_full=ran_as_full,
            )

    def _update_queued(self, conn: Connection, job_id: str, **values: Any) -> None:
        """Update a job only while it is queued, else raise ``JobStateError``.

        One conditional UPDATE, not a read then a write: it holds the job's row until the
        caller's transaction ends, so a reconcile cannot settle the job in between.
        """
        done = conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == JobStatus.QUEUED.value)
            .values(**values)
        )
        if not done.rowcount:
            status = conn.execute(select(jobs.c.status).where(jobs.c.id == job_id)).scalar()
            if status is None:
                raise JobNotFoundError(job_id)
            raise JobStateError(f"job {job_id} is {status}, not queued")

    @retry_db
    def heartbeat(self, job_id: str) -> None:
        """A sign of life from the job's run; a job settled meanwhile keeps its last beat."""
        with self.engine.begin() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status.in_(ACTIVE))
                .values(heartbeat_at=utcnow())
            )

    @retry_db
    def interrupt(
        self, job_id: str, why: str, *, silent_since: datetime | None = _ANY_BEAT
    ) -> bool:
        """Stop an active job's chunks because its run was interrupted (not cancelled).

        The first reason stays. With ``silent_since`` (the heartbeat reconcile read, None for
        none), only a job that has not beaten since: False when it beat, or settled, meanwhile,
        so a live run is never settled on a stale reading.
        """
        where = [jobs.c.id == job_id, jobs.c.status.in_(ACTIVE)]
        if silent_since is not _ANY_BEAT:
            beat = jobs.c.heartbeat_at
            where.append(beat.is_(None) if silent_since is None else beat == silent_since)
        with self.engine.begin() as conn:
            done = conn.execute(
                update(jobs)
                .where(*where)
                .values(interrupted=func.coalesce(jobs.c.interrupted, why))
            )
        return bool(done.rowcount)

    @retry_db
    def record_job_error(self, job_id: str, error: str) -> None:
        """Note a job-level error once; chunks that see it stop starting."""
        with self.engine.begin() as conn:
            conn.execute(
                update(jobs).where(jobs.c.id == job_id, jobs.c.error.is_(None)).values(error=error)
            )

    @retry_db
    def finish_job(
        self,
        job_id: str,
        status: JobStatus,
        error: str | None = None,
        *,
        records: int | None = None,
        drift: Mapping[str, Drift] | None = None,
    ) -> Job:
        """End a job whatever its status (history set up by hand, as tests do); a run's
        job is ended by ``settle_job``. ``error`` and ``records`` are kept when None."""
        values = _ending(status, drift)
        values |= {
            k: v for k, v in (("error", error), ("records_stored", records)) if v is not None
        }
        self.update_job(job_id, **values)
        return self.get_job(job_id)

    @retry_db
    def settle_job(
        self,
        job_id: str,
        status: JobStatus,
        error: str | None,
        *,
        records: int | None = None,
        drift: Mapping[str, Drift] | None = None,
    ) -> bool:
        """End an active job: False if it had already ended (settled by someone else).
        ``records``: the distinct records it stored; ``drift``: what a full sync found."""
        values = _ending(status, drift) | {"error": error, "records_stored": records}
        with self.engine.begin() as conn:
            done = conn.execute(
                update(jobs).where(jobs.c.id == job_id, jobs.c.status.in_(ACTIVE)).values(**values)
            )
        return bool(done.rowcount)

    @retry_db
    def mark_outcome_reported(self, job_id: str) -> None:
        self.update_job(job_id, outcome_reported_at=utcnow())

    @retry_db
    def unreported_jobs(self, settled_after: datetime, settled_before: datetime) -> list[Job]:
        """Settled jobs whose outcome was not reported (their reporter died or Prefect was
        away), settled within the given times."""
        query = select(jobs.c.id).where(
            jobs.c.outcome_reported_at.is_(None),
            jobs.c.status.not_in(ACTIVE),
            jobs.c.finished_at > settled_after,
            jobs.c.finished_at <= settled_before,
        )
        with self.reader.connect() as conn:
            ids = conn.execute(query).scalars().all()
        return [self.get_job(job_id, with_chunks=False) for job_id in ids]

    @retry_db
    def request_cancel(self, job_id: str) -> bool:
        """Flag a queued or running job to stop; False if it had already ended."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status.in_(ACTIVE))
                .values(cancel_requested=True)
            )
        return bool(done.rowcount)

    @retry_db
    def copy_unfinished_chunks(self, parent_id: str, job_id: str) -> int:
        """Give ``job_id`` the same windows as the chunks of ``parent_id`` that did not complete."""
        with self.engine.begin() as conn:
            self._update_queued(conn, job_id, heartbeat_at=utcnow())
            rows = (
                conn.execute(
                    select(chunks).where(
                        chunks.c.job_id == parent_id,
                        chunks.c.status != ChunkStatus.COMPLETED.value,
                    )
                )
                .mappings()
                .all()
            )
            fresh = [
                {
                    **{
                        k: row[k] for k in ("index", "resource", "offset", "limit", "updated_since")
                    },
                    "job_id": job_id,
                    "status": ChunkStatus.PENDING.value,
                    "records": 0,
                    "attempts": 0,
                }
                for row in rows
            ]
            if fresh:
                conn.execute(insert(chunks), fresh)
        return len(fresh)


def _ending(status: JobStatus, drift: Mapping[str, Drift] | None) -> dict[str, Any]:
    values: dict[str, Any] = {"status": status.value, "finished_at": utcnow()}
    if drift is not None:
        values["drift"] = {r: {"stored": d.stored, "source": d.source} for r, d in drift.items()}
    return values


@functools.cache
def get_ledger(url: str) -> Ledger:
    """One ledger per database URL per process; migrates on first use."""
    return Ledger(get_engine(url))
