"""Recovery: cancel a job, check what a resume may run, reconcile interrupted jobs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
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


def _interrupted(job: Job, run: RunState | None, stale_after: timedelta) -> str | None:
    """Why ``job``'s run is gone, or None while it may still be alive."""
    if run is not None and run.status.finished:
        return f"{INTERRUPTED}: its Prefect flow run ended {run.name.lower()}"
    last_sign = job.heartbeat_at or job.created_at
    if utcnow() - last_sign <= stale_after:
        return None
    if job.status is JobStatus.QUEUED and run is not None and run.status is JobStatus.QUEUED:
        return None  # its run waits for a worker or a concurrency slot
    return f"{INTERRUPTED}: no heartbeat since {last_sign:%Y-%m-%d %H:%M:%S} UTC"


def reconcile(
    ledger: Ledger,
    stale_after: timedelta,
    run_state: RunStateOf | None = None,
    *,
    tenant: str | None = None,
    sync_type: str | None = None,
) -> list[Job]:
    """Settle queued or running jobs whose run is gone; returns the jobs it settled.

    A run is gone when the orchestrator says it ended (crashed, say) while the ledger
    still has it active, or when its heartbeat is older than ``stale_after`` (a queued
    job whose run still waits to start is alive). Its running chunks fail with
    "interrupted", its pending chunks are cancelled, and the job settles by its chunks.
    A job that beats between the look and the settling is spared: it is alive.
    """
    settled = []
    for job in ledger.active_jobs(tenant, sync_type):
        run = run_state(job.flow_run_id) if run_state and job.flow_run_id else None
        why = _interrupted(job, run, stale_after)
        if why is None or not ledger.fail_if_silent(job.id, job.heartbeat_at):
            continue  # alive, or it beat (or settled) since it was read
        # Now failed, so its run's next ledger write (chunks, start) is refused; the
        # status is refined by its chunks below.
        ledger.settle_open_chunks(job.id, ChunkStatus.FAILED, INTERRUPTED, only=ChunkStatus.RUNNING)
        ledger.settle_open_chunks(job.id, ChunkStatus.CANCELLED, f"not run: {INTERRUPTED}")
        counts = ledger.get_job(job.id, with_chunks=False).counts
        # A job interrupted before it planned any chunk did nothing: it failed.
        status = job_outcome(
            counts, cancelled=job.cancel_requested, job_error=not sum(counts.values())
        )
        error = None if status is JobStatus.COMPLETED else job.error or why
        settled.append(ledger.finish_job(job.id, status, error=error))
    return settled
