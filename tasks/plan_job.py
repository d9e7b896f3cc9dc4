"""Plan a claimed job: count each resource through the API and record its chunks.

A resume copies its parent's unfinished windows instead, so it re-reads exactly them.
"""

from __future__ import annotations

from datetime import timedelta

from chunking import SyncSize, ceil_div, plan_chunks
from core.errors import JobStateError, JobsViewError, PlanTooLargeError
from core.validation import SyncType
from ledger.models import Job
from ledger.store import Ledger
from tasks.seams import Source


def resolve_sync_size(
    ledger: Ledger, tenant: str, flag: SyncSize | None, default: SyncSize
) -> SyncSize:
    """The run's flag, else the tenant's stored setting, else the stored default, else
    JOBSVIEW_SYNC_SIZE."""
    return flag or ledger.tenant_sync_size(tenant) or ledger.default_sync_size() or default


def check_plan_size(totals: list[tuple[str, int]], chunk_size: int, max_chunks: int) -> None:
    """Refuse, before anything is allocated, a plan of more than ``max_chunks`` chunks."""
    needed = 0
    for resource, total in totals:
        needed += ceil_div(total, chunk_size)
        if needed > max_chunks:
            raise PlanTooLargeError(
                f"{resource} counts {total:,} records at the source, so the job would need "
                f"{needed:,}+ chunks of {chunk_size:,}, over JOBSVIEW_MAX_CHUNKS_PER_JOB="
                f"{max_chunks:,}; check the source's `total`, use a larger Sync Size, or raise "
                "the limit"
            )


def plan(
    ledger: Ledger,
    source: Source,
    job_id: str,
    *,
    watermark_lag: timedelta,
    max_chunks: int = 10_000,
) -> Job:
    """Record the chunks of a claimed job and mark it running.

    A planning error is recorded as the job's error, so it settles as failed with the reason
    and stays in the history. A job settled behind the run's back while it planned
    (reconciled, cancelled) is left as it is, and ``JobStateError`` says so.
    """
    try:
        return _plan(ledger, source, job_id, watermark_lag, max_chunks)
    except JobStateError as exc:
        job = ledger.get_job(job_id, with_chunks=False)
        if not job.status.finished:
            raise
        raise JobStateError(
            f"job {job.id} was settled as {job.status.value} while planning "
            f"({job.error or 'no reason given'}); not planning it"
        ) from exc


def _plan(
    ledger: Ledger, source: Source, job_id: str, watermark_lag: timedelta, max_chunks: int
) -> Job:
    job = ledger.get_job(job_id, with_chunks=False)
    if job.parent_id:
        parent = ledger.get_job(job.parent_id, with_chunks=False)
        ledger.copy_unfinished_chunks(parent.id, job.id)
        ledger.mark_running(job.id, ran_as_full=parent.ran_as_full)
        return ledger.get_job(job.id, with_chunks=False)
    resources = job.resources
    try:
        partial = job.sync_type == SyncType.PARTIAL
        marks = ledger.watermarks(job.tenant) if partial else {}
        since = {r: marks[r] - watermark_lag for r in resources if r in marks}
        totals = [(r, source.count(job.tenant, r, since.get(r))) for r in resources]
        ledger.update_job(job.id, totals=dict(totals), since=min(since.values(), default=None))
        check_plan_size(totals, job.chunk_size, max_chunks)
        ledger.add_chunks(job.id, plan_chunks(totals, job.chunk_size), since)
        ledger.mark_running(job.id, ran_as_full=partial and len(since) < len(resources))
    except JobStateError:
        raise  # settled meanwhile: not ours to fail
    except JobsViewError as exc:
        ledger.record_job_error(job.id, f"planning failed: {exc}")
    return ledger.get_job(job.id, with_chunks=False)
