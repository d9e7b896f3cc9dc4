"""The Jobs View model: jobs, chunks and their statuses."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self not in (JobStatus.QUEUED, JobStatus.RUNNING)


ACTIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class ChunkStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self not in (ChunkStatus.PENDING, ChunkStatus.RUNNING)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True, slots=True)
class Chunk:
    index: int
    resource: str
    offset: int
    limit: int | None
    status: ChunkStatus
    records: int = 0
    attempts: int = 0
    error: str | None = None
    worker: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_since: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "resource": self.resource,
            "offset": self.offset,
            "limit": self.limit,
            "status": self.status.value,
            "records": self.records,
            "attempts": self.attempts,
            "error": self.error,
            "worker": self.worker,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "updated_since": _iso(self.updated_since),
        }


def empty_counts() -> dict[ChunkStatus, int]:
    return dict.fromkeys(ChunkStatus, 0)


def job_outcome(
    counts: Mapping[ChunkStatus, int], *, cancelled: bool = False, job_error: bool = False
) -> JobStatus:
    """How a job whose chunks have all stopped ended, by the Jobs View's rules.

    A cancel that came after every chunk completed changed nothing: the job completed.
    """
    completed = counts.get(ChunkStatus.COMPLETED, 0)
    total = sum(counts.values())
    if cancelled and (completed < total or total == 0):
        return JobStatus.CANCELLED
    if job_error:
        return JobStatus.FAILED
    if completed == total:
        return JobStatus.COMPLETED
    return JobStatus.INCOMPLETE if completed else JobStatus.FAILED


@dataclass(frozen=True, slots=True)
class Drift:
    """After a full sync: records the job stored for a resource against the source's total."""

    stored: int
    source: int

    @property
    def difference(self) -> int:
        return self.stored - self.source

    def to_dict(self) -> dict[str, int]:
        return {"stored": self.stored, "source": self.source, "difference": self.difference}


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    tenant: str
    sync_type: str
    status: JobStatus
    sync_size: str
    chunk_size: int
    created_at: datetime
    resources: tuple[str, ...] = ()
    parent_id: str | None = None
    flow_run_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    error: str | None = None
    cancel_requested: bool = False
    interrupted: str | None = None  # why its run stopped the chunks, when nobody cancelled
    outcome_reported: bool = False  # its outcome event and artifacts went out
    ran_as_full: bool = False
    totals: Mapping[str, int] | None = None
    since: datetime | None = None  # a partial sync's watermark
    records_synced: int = 0
    drift: Mapping[str, Drift] | None = None
    counts: Mapping[ChunkStatus, int] = field(default_factory=empty_counts)
    chunks: tuple[Chunk, ...] | None = None
    resumed_by: tuple[str, ...] = ()

    @property
    def total_chunks(self) -> int:
        return sum(self.counts.values())

    @property
    def done_chunks(self) -> int:
        return sum(n for status, n in self.counts.items() if status.finished)

    def to_dict(self, *, include_chunks: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "tenant": self.tenant,
            "sync_type": self.sync_type,
            "status": self.status.value,
            "sync_size": self.sync_size,
            "chunk_size": self.chunk_size,
            "resources": list(self.resources),
            "parent_id": self.parent_id,
            "resumed_by": list(self.resumed_by),
            "flow_run_id": self.flow_run_id,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "heartbeat_at": _iso(self.heartbeat_at),
            "error": self.error,
            "cancel_requested": self.cancel_requested,
            "ran_as_full": self.ran_as_full,
            "totals": dict(self.totals) if self.totals is not None else None,
            "since": _iso(self.since),
            "records_synced": self.records_synced,
            "drift": (
                {r: d.to_dict() for r, d in self.drift.items()} if self.drift is not None else None
            ),
            "counts": {status.value: self.counts.get(status, 0) for status in ChunkStatus},
        }
        if include_chunks and self.chunks is not None:
            data["chunks"] = [chunk.to_dict() for chunk in self.chunks]
        return data
