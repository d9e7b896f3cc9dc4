"""Recovery: cancel a job, check what a resume may run, find runs that died, settle a job.

A job settles once its run has stopped its chunks, however the run ended: its open chunks
are closed and its status follows from their outcomes (``outcome``). Whoever settles it (its
own run, or reconcile for a run that died) goes through ``close_chunks`` and ``outcome``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import NamedTuple

from core.db import utcnow
from core.errors import JobStateError
from ledger.models import ChunkStatus, Job, JobStatus, job_outcome
from ledger.store import Ledger

INTERRUPTED = "interrupted"


class RunState(NamedTuple):
    """What the orchestrator says of a job's run, already in Jobs View terms."""

    status: JobStatus  # queued, running, or a finished status
    name: str  # the orchestrator's own name for the state, for messages ("Crashed")
    since: datetime | None = None  # when the run entered this state


RunStateOf = Callable[[str], RunState | None]


def request_cancel(ledger: Ledger, ref: str) -> Job:
    """Ask a queued or running job to stop; its flow notices within a couple of seconds."""
    job = ledger.get_job(ref, with_chunks=False)
    if not ledger.request_cancel(job.id):
        raise JobStateError(f"job {job.id} already ended {job.status.value}; nothing to cancel")
    return ledger.get_job(job.id, with_chunks=False)


def resumable(ledger: Ledger, ref: str, adopting: str | None = None) -> Job:
    """The job a resume would continue, or a clear refusal.

    ``adopting`` is the id of a resume claimed ahead of its run, which does not count.
    """
    job = ledger.get_job(ref)
    if job.status is JobStatus.COMPLETED:
        raise JobStateError(f"job {job.id} completed: there is nothing to resume")
    if not job.status.finished:
        raise JobStateError(
            f"job {job.id} is still {job.status.value}; wait for it, or cancel it with "
            f"`jobsview cancel {job.id}` and resume it then"
        )
    others = [child for child in job.resumed_by if child != adopting]
    if others:
        latest = others[-1]
        raise JobStateError(
            f"job {job.id} was already resumed by {latest}; resume that job instead"
        )
    if not any(c.status is not ChunkStatus.COMPLETED for c in job.chunks or ()):
        raise JobStateError(
            f"job {job.id} has no chunks to resume (it {job.status.value} while planning: "
            f"{job.error}); start a new one with `jobsview run`"
        )
    return job


def ancestors(ledger: Ledger, job: Job) -> list[Job]:
    """The jobs ``job`` resumes, nearest first: the last one began the chain."""
    found = []
    while job.parent_id:
        job = ledger.get_job(job.parent_id, with_chunks=False)
        found.append(job)
    return found


# -- runs that died ---------------------------------------------------------------------------


def why_gone(
    job: Job, run: RunState | None, stale_after: timedelta, now: datetime | None = None
) -> str | None:
    """Why ``job``'s run is gone, or None while it may be alive.

    Both signs count, never one alone: the job's heartbeat (its run beats from the claim on)
    and its flow run's state. A run the orchestrator says ended, with the job still active,
    died before settling it. Otherwise the run is gone only when both have been silent for
    ``stale_after``: no beat, and no state change. So a run that just started, and has yet to
    adopt a job claimed long before, is alive. A queued job whose run waits to start (for a
    worker or a concurrency slot), or whose run the orchestrator cannot tell of, is alive.
    """
    if run is not None and run.status.finished:
        return f"{INTERRUPTED}: its Prefect flow run ended {run.name.lower()}"
    waiting = run is None or run.status is JobStatus.QUEUED
    if job.status is JobStatus.QUEUED and job.flow_run_id and waiting:
        return None
    last_sign = job.heartbeat_at or job.created_at
    if run is not None and run.since is not None:
        last_sign = max(last_sign, run.since)
    if (now or utcnow()) - last_sign <= stale_after:
        return None
    return f"{INTERRUPTED}: no heartbeat since {last_sign:%Y-%m-%d %H:%M:%S} UTC"


def claim_dead(
    ledger: Ledger,
    stale_after: timedelta,
    run_state: RunStateOf | None = None,
    *,
    tenant: str | None = None,
    sync_type: str | None = None,
) -> Iterator[Job]:
    """Active jobs whose run is gone, each marked interrupted (so a run that wakes up stops
    its chunks) and yielded to be settled. A job that beats between the look and the mark is
    spared: it is alive."""
    for job in ledger.active_jobs(tenant, sync_type):
        run = run_state(job.flow_run_id) if run_state and job.flow_run_id else None
        why = why_gone(job, run, stale_after)
        if why is not None and ledger.interrupt(job.id, why, silent_since=job.heartbeat_at):
            yield job


# -- settling ---------------------------------------------------------------------------------


def close_chunks(ledger: Ledger, job_id: str) -> Job:
    """Close the open chunks of a job whose run has stopped: a running chunk's attempt did
    not finish (failed), a pending one never ran (cancelled). Returns the job."""
    job = ledger.get_job(job_id, with_chunks=False)
    open_chunks = job.counts[ChunkStatus.PENDING] + job.counts[ChunkStatus.RUNNING]
    if not open_chunks:
        return job
    if job.cancel_requested:
        stopped, not_run = "cancelled", "cancelled"
    else:
        # The job keeps the whole cause; its chunks say it in a word.
        stopped = INTERRUPTED if job.interrupted else job.error or INTERRUPTED
        not_run = f"not run: {stopped}"
    ledger.settle_open_chunks(job_id, ChunkStatus.FAILED, stopped, only=ChunkStatus.RUNNING)
    ledger.settle_open_chunks(job_id, ChunkStatus.CANCELLED, not_run)
    return ledger.get_job(job_id, with_chunks=False)


def outcome(job: Job) -> tuple[JobStatus, str | None]:
    """A job's final status and error, from its closed chunks, its cancel and its errors.

    A job-level error (authentication, planning) fails it; so does an interruption before it
    planned a chunk. Otherwise, a run that was interrupted ends by its chunks.
    """
    planned = job.total_chunks > 0
    job_error = job.error is not None or (job.interrupted is not None and not planned)
    status = job_outcome(job.counts, cancelled=job.cancel_requested, job_error=job_error)
    if status in (JobStatus.COMPLETED, JobStatus.CANCELLED):
        return status, job.error if status is JobStatus.CANCELLED else None
    return status, job.error or job.interrupted
