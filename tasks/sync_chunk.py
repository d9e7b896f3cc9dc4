"""Sync one chunk: read its window from the source, upsert it, record the outcome."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from connectors.window import WindowStats
from core.errors import FatalSourceError, JobsViewError, StopRequested
from ledger.models import ChunkStatus
from ledger.store import Ledger
from tasks.seams import Destination, Source
from tasks.verify import chunk_edges

SETTLED_MEANWHILE = "the job was settled while this chunk ran (its run was taken for dead)"
# An open-ended last chunk may read this many chunk sizes before it is taken for a lying source.
OPEN_ENDED_CHUNKS = 10


@dataclass(frozen=True, slots=True)
class ChunkSummary:
    """What a chunk task returns: never the records themselves."""

    index: int
    status: ChunkStatus
    records: int = 0
    note: str | None = None  # why a chunk was cancelled


class StopCheck:
    """Asks the ledger whether the job should stop, at most once per ``interval``."""

    def __init__(self, ledger: Ledger, job_id: str, interval: float = 1.0) -> None:
        self.ledger, self.job_id, self.interval = ledger, job_id, interval
        self._checked_at = float("-inf")
        self.reason: str | None = None

    def __call__(self) -> bool:
        now = time.monotonic()
        if self.reason is None and now - self._checked_at >= self.interval:
            self._checked_at = now
            self.reason = self.ledger.stop_reason(self.job_id)
        return self.reason is not None


def describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, JobsViewError) else f"{type(exc).__name__}: {exc}"


def run_chunk(
    ledger: Ledger,
    source: Source,
    destination: Destination,
    *,
    job_id: str,
    tenant: str,
    index: int,
    worker: str,
    edge: int | None = None,
) -> ChunkSummary:
    """One attempt at one chunk. Raises on failure, after noting the error in the ledger.

    ``edge``: how many ids at each end of its read the chunk keeps, so that records its
    neighbours read too count once (``tasks.verify``); three drift margins cover them. None
    keeps none: the chunk then counts as the records past its margin.
    """
    should_stop = StopCheck(ledger, job_id)
    if should_stop():
        note = f"not started: {should_stop.reason}"
        ledger.settle_chunk(job_id, index, ChunkStatus.CANCELLED, note)
        return ChunkSummary(index, ChunkStatus.CANCELLED, note=note)
    chunk = ledger.get_chunk(job_id, index)
    if chunk.status is ChunkStatus.COMPLETED:
        return ChunkSummary(index, chunk.status, chunk.records)
    max_records = None
    if chunk.limit is None:
        max_records = OPEN_ENDED_CHUNKS * ledger.get_job(job_id, with_chunks=False).chunk_size
    if not ledger.chunk_started(job_id, index, worker):
        return ChunkSummary(index, ChunkStatus.CANCELLED, note=SETTLED_MEANWHILE)
    stats = WindowStats()
    try:
        # The window is bounded by the chunk size, so buffering it keeps the
        # write atomic without holding a transaction open across HTTP calls.
        items: list[dict[str, Any]] = []
        for page in source.iter_pages(
            tenant,
            chunk.resource,
            chunk.offset,
            chunk.limit,
            chunk.updated_since,
            should_stop,
            max_records=max_records,
            stats=stats,
        ):
            items.extend(page)
        if should_stop():
            raise StopRequested(f"stopped before writing: {should_stop.reason}")
        written = destination.write_chunk(tenant, chunk.resource, job_id, items)
        edges = None
        if edge is not None:
            edges = chunk_edges([str(item["id"]) for item in items], written, edge)
    except StopRequested as exc:
        ledger.settle_chunk(job_id, index, ChunkStatus.CANCELLED, str(exc))
        return ChunkSummary(index, ChunkStatus.CANCELLED, note=str(exc))
    except Exception as exc:
        if isinstance(exc, FatalSourceError):
            ledger.record_job_error(job_id, str(exc))
        ledger.chunk_error(job_id, index, describe(exc))
        raise
    # The records read from the drift margin were counted by the chunk before.
    if not ledger.chunk_completed(job_id, index, written - stats.lead, edges):
        # Its records are stored (upserts), but the job's outcome was told without them;
        # the resume that re-runs this chunk counts them.
        return ChunkSummary(index, ChunkStatus.CANCELLED, note=SETTLED_MEANWHILE)
    return ChunkSummary(index, ChunkStatus.COMPLETED, written - stats.lead)
