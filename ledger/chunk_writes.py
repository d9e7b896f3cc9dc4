"""The ledger's chunk writes: a run's progress on each chunk, and closing them when a job
settles. A settled job's chunks are final: a late run's writes are refused."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, select, update

from core.db import retry_db, utcnow
from ledger.models import ChunkStatus
from ledger.reads import ACTIVE
from ledger.schema import chunks, jobs

_OPEN_CHUNK_STATUSES = (ChunkStatus.PENDING.value, ChunkStatus.RUNNING.value)


class ChunkWriter:
    """The chunk-writing side of ``Ledger``."""

    engine: Engine

    def _update_chunk(self, job_id: str, index: int, *where: Any, **values: Any) -> bool:
        """Update a chunk of an active job: a settled job's chunks are final, whatever a late
        run (a process that was stopped, then woke up) still does. False if refused."""
        active = select(jobs.c.id).where(jobs.c.id == job_id, jobs.c.status.in_(ACTIVE)).exists()
        with self.engine.begin() as conn:
            done = conn.execute(
                update(chunks)
                .where(chunks.c.job_id == job_id, chunks.c.index == index, active, *where)
                .values(**values)
            )
        return bool(done.rowcount)

    @retry_db
    def chunk_started(self, job_id: str, index: int, worker: str) -> bool:
        return self._update_chunk(
            job_id,
            index,
            status=ChunkStatus.RUNNING.value,
            attempts=chunks.c.attempts + 1,
            worker=worker,
            started_at=utcnow(),
            finished_at=None,
        )

    @retry_db
    def chunk_completed(
        self, job_id: str, index: int, records: int, edges: Mapping[str, Any] | None = None
    ) -> bool:
        """``records``: the distinct records the chunk stored, less those it read from the
        drift margin (the chunk before stored them); ``edges``: see ``schema.chunks``."""
        return self._update_chunk(
            job_id,
            index,
            status=ChunkStatus.COMPLETED.value,
            records=records,
            edges=edges,
            finished_at=utcnow(),
        )

    @retry_db
    def forget_edges(self, job_ids: Sequence[str]) -> None:
        """A completed chain's chunk edges are no longer needed: no resume will count again."""
        with self.engine.begin() as conn:
            conn.execute(
                update(chunks)
                .where(chunks.c.job_id.in_(list(job_ids)), chunks.c.edges.is_not(None))
                .values(edges=None)
            )

    @retry_db
    def chunk_error(self, job_id: str, index: int, error: str) -> None:
        """Record an attempt's error; the chunk stays running until Prefect gives up."""
        self._update_chunk(job_id, index, error=error)

    @retry_db
    def settle_chunk(
        self, job_id: str, index: int, status: ChunkStatus, error: str | None = None
    ) -> None:
        """Give an unfinished chunk its final status; finished chunks keep theirs."""
        values: dict[str, Any] = {"status": status.value, "finished_at": utcnow()}
        if error is not None:
            values["error"] = error
        self._update_chunk(job_id, index, chunks.c.status.in_(_OPEN_CHUNK_STATUSES), **values)

    @retry_db
    def settle_open_chunks(
        self,
        job_id: str,
        status: ChunkStatus,
        error: str,
        only: ChunkStatus | None = None,
    ) -> None:
        """Finish every unfinished chunk (or only those in status ``only``)."""
        which = [only.value] if only else _OPEN_CHUNK_STATUSES
        with self.engine.begin() as conn:
            conn.execute(
                update(chunks)
                .where(chunks.c.job_id == job_id, chunks.c.status.in_(which))
                .values(status=status.value, error=error, finished_at=utcnow())
            )
