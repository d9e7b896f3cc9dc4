"""The one text renderer of a job's tree, for the CLI, the web page and Prefect artifacts,
and the small formatters every view shares: progress, durations, windows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ledger.models import Chunk, ChunkStatus, Job, JobStatus


def duration(seconds: float | None) -> str:
    """``4.2s``, ``3m07s`` or ``2h05m``; empty when unknown."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start and end else None


def job_duration(job: Job) -> str:
    """How long a finished job ran (empty while it runs)."""
    return duration(seconds_between(job.started_at or job.created_at, job.finished_at))


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def progress_text(of: Job | Mapping[ChunkStatus, int]) -> str:
    """``16 of 37 chunks completed, 21 cancelled``: what happened, never just "done"; for a
    job that completed with nothing to sync, why there was nothing."""
    if isinstance(of, Job):
        empty = _nothing_to_sync(of)
        if empty:
            return empty
        of = of.counts
    counts = of
    total = sum(counts.values())
    text = f"{counts.get(ChunkStatus.COMPLETED, 0):,} of {_plural(total, 'chunk')} completed"
    others = [
        f"{counts[s]:,} {s.value}"
        for s in (
            ChunkStatus.FAILED,
            ChunkStatus.CANCELLED,
            ChunkStatus.RUNNING,
            ChunkStatus.PENDING,
        )
        if counts.get(s)
    ]
    return ", ".join([text, *others])


def _nothing_to_sync(job: Job) -> str | None:
    if job.total_chunks or job.status is not JobStatus.COMPLETED:
        return None
    if job.sync_type == "partial" and not job.ran_as_full:
        when = f" ({job.since:%Y-%m-%d %H:%M} UTC)" if job.since else ""
        return f"nothing changed since the watermark{when}: no chunks to sync"
    return "no records at the source: no chunks to sync"


def short_error(error: str | None, limit: int = 80) -> str:
    """An error on one line, cut to ``limit`` characters."""
    text = " ".join((error or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def drift_text(job: Job) -> str | None:
    """``drift: contacts 1,001 stored, 1,000 at the source (+1)``, or None when none was found."""
    if not job.drift:
        return None
    parts = [
        f"{resource} {d.stored:,} stored, {d.source:,} at the source ({d.difference:+,})"
        for resource, d in job.drift.items()
    ]
    return "drift: " + "; ".join(parts)


def window_text(chunk: Chunk, *, with_resource: bool = True) -> str:
    """``contacts 0-99``, ``contacts 2000- (to the end)``; or just ``0-99``, ``2000-``."""
    if chunk.limit is None:
        span = f"{chunk.offset}-"
        return f"{chunk.resource} {span} (to the end)" if with_resource else span
    span = f"{chunk.offset}-{chunk.offset + chunk.limit - 1}"
    return f"{chunk.resource} {span}" if with_resource else span


def chunk_line(chunk: Chunk) -> str:
    parts = [f"|- Chunk {chunk.index} [{chunk.status.value}] {window_text(chunk)}"]
    if chunk.status is not ChunkStatus.PENDING:
        parts.append(_plural(chunk.records, "record"))
        parts.append(_plural(chunk.attempts, "attempt"))
    if chunk.worker:
        parts.append(chunk.worker)
    took = duration(seconds_between(chunk.started_at, chunk.finished_at))
    if took:
        parts.append(took)
    return " · ".join(parts)


def job_header(job: Job) -> list[str]:
    sync = job.sync_type + (" (no watermark yet: ran as full)" if job.ran_as_full else "")
    lines = [
        f"Job {job.id} [{job.status.value}]",
        f"   {job.tenant} · {sync} · Sync Size {job.sync_size} ({job.chunk_size:,} per chunk)",
    ]
    progress = f"   {progress_text(job)} · {_plural(job.records_synced, 'record')}"
    took = duration(seconds_between(job.started_at, job.finished_at))
    if took:
        progress += f" · took {took}"
    lines.append(progress)
    if job.cancel_requested and not job.status.finished:
        lines.append("   cancel requested")
    if job.parent_id:
        lines.append(f"   resumes {job.parent_id}")
    if job.resumed_by:
        lines.append(f"   resumed by {', '.join(job.resumed_by)}")
    if job.error:
        lines.append(f"   error: {job.error}")
    drift = drift_text(job)
    if drift:
        lines.append(f"   {drift}")
    return lines


def render_tree(job: Job, *, max_chunks: int | None = None, failed_only: bool = False) -> str:
    """The seed's picture: a ``Job`` line, then one ``|- Chunk N [status]`` line per chunk."""
    lines = job_header(job)
    shown = list(job.chunks or ())
    if failed_only:
        shown = [c for c in shown if c.status is ChunkStatus.FAILED]
    hidden = 0
    if max_chunks is not None and len(shown) > max_chunks:
        hidden = len(shown) - max_chunks
        shown = shown[:max_chunks]
    for chunk in shown:
        lines.append(chunk_line(chunk))
        if chunk.error and chunk.status is not ChunkStatus.COMPLETED:
            lines.append(f"|     error: {chunk.error}")
    if hidden:
        lines.append(f"|- ... {hidden:,} more chunks")
    return "\n".join(lines)


def describe_previous(job: Job | None, tenant: str, sync_type: str) -> str:
    """How the previous job of a tenant and type ended, as a run says before it starts."""
    if job is None:
        return f"No previous {sync_type} job for {tenant}."
    when = job.finished_at or job.started_at or job.created_at
    text = f"Previous {sync_type} job for {tenant}: {job.id} {job.status.value}"
    text += f" ({when:%Y-%m-%d %H:%M:%S} UTC)"
    if job.status is JobStatus.INCOMPLETE:
        text += f"; re-run its unfinished chunks with `jobsview resume {job.id}`"
    elif job.error:
        text += f": {job.error}"
    return text + "."
