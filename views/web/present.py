"""Numbers and shapes the pages show: progress, ETA, the chunk timeline, pages of chunks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from chunking import ceil_div
from core.db import utcnow
from ledger.chunk_reads import ChunkSpan
from ledger.models import Chunk, ChunkStatus, Job, JobStatus
from ledger.render import duration, seconds_between

CHUNKS_PER_PAGE = 200
STRIP_CELLS = 400  # so 10,000 chunks stay readable


@dataclass(frozen=True)
class Progress:
    percent: float
    done: int
    total: int
    elapsed: str
    eta: str
    segments: tuple[tuple[str, float], ...] = ()  # (chunk status, percent of all chunks)


def progress(job: Job, now: datetime | None = None) -> Progress:
    now = now or utcnow()
    total, done = job.total_chunks, job.done_chunks
    percent = 100.0 if job.status is JobStatus.COMPLETED else (done / total * 100 if total else 0.0)
    start = job.started_at
    end = job.finished_at or (now if not job.status.finished else None)
    elapsed = seconds_between(start, end)
    eta = ""
    if job.status is JobStatus.RUNNING and elapsed and 0 < done < total:
        eta = duration(elapsed / done * (total - done))
    segments = tuple(
        (status.value, n / total * 100)
        for status, n in job.counts.items()
        if n and status.finished and total
    )
    return Progress(percent, done, total, duration(elapsed), eta, segments)


@dataclass(frozen=True)
class Bar:
    chunk: Chunk
    left: float
    width: float


def timeline(span: ChunkSpan, shown: Sequence[Chunk], now: datetime | None = None) -> list[Bar]:
    """Gantt bars for the chunks shown that have started, in percent of the span from the
    first chunk start to the last chunk end of the whole job (planning and settling would
    squeeze the bars)."""
    started = [c for c in shown if c.started_at]
    if not started or span.first_start is None:
        return []
    t0 = span.first_start
    t1 = (now or utcnow()) if span.unfinished or span.last_finish is None else span.last_finish
    total = max((t1 - t0).total_seconds(), 1e-3)
    bars = []
    for c in started:
        assert c.started_at is not None
        begin = (c.started_at - t0).total_seconds()
        end = ((c.finished_at or t1) - t0).total_seconds()
        left = min(max(begin / total * 100, 0.0), 100.0)
        bars.append(Bar(c, left, max(min((end - begin) / total * 100, 100.0 - left), 0.3)))
    return bars


def pages_of(job: Job, failed_only: bool) -> int:
    """How many pages of chunks the job has (failed ones only, if asked)."""
    pool = job.counts[ChunkStatus.FAILED] if failed_only else job.total_chunks
    return max(1, ceil_div(pool, CHUNKS_PER_PAGE))


def chunks_at_each_size(job: Job | None) -> dict[str, int] | None:
    """How many chunks a job would have had at each Sync Size, from its planned totals."""
    from chunking import SyncSize

    if job is None or job.totals is None:
        return None
    return {
        size.value: sum(ceil_div(total, size.chunk_size) for total in job.totals.values())
        for size in SyncSize
    }
