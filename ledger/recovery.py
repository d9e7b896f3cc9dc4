"""Recovery: cancel a job, check what a resume may run, reconcile interrupted jobs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from prefect.client.schemas.objects import StateType

from core.db import utcnow
from core.errors import JobStateError
from ledger import adapter
from ledger.models import ChunkStatus, Job, JobStatus
from ledger.store import Ledger

INTERRUPTED = "interrupted"

# Flow run states that mean the run is over, whatever the ledger still says.
_ENDED = {StateType.CRASHED, StateType.FAILED, StateType.COMPLETED, StateType.CANCELLED}


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


def root_of(ledger: Ledger, job: Job) -> Job:
    """The first job of a resume chain: its planning time is the chain's watermark."""
    while job.parent_id:
        job = ledger.get_job(job.parent_id, with_chunks=False)
    return job


FlowRunState = Callable[[str], "StateType | None"]


def reconcile(
    ledger: Ledger,
    stale_after: timedelta,
    flow_run_state: FlowRunState | None = None,
    *,
    tenant: str | None = None,
    sync_type: str | None = None,
) -> list[Job]:
    """Settle queued or running jobs whose run is gone; returns the jobs it settled.

    A run is gone when its heartbeat is older than ``stale_after``, or when Prefect
    says its flow run ended (crashed, say) while the ledger still has it running.
    Its running chunks fail with "interrupted"; the job ends incomplete or failed.
    """
    now = utcnow()
    settled = []
    for job in ledger.active_jobs(tenant, sync_type):
        last_sign = job.heartbeat_at or job.created_at
        why = None
        if now - last_sign > stale_after:
            why = f"{INTERRUPTED}: no heartbeat since {last_sign:%Y-%m-%d %H:%M:%S} UTC"
        elif flow_run_state and job.flow_run_id:
            state = flow_run_state(job.flow_run_id)
            if state in _ENDED:
                why = f"{INTERRUPTED}: its Prefect flow run ended {state.value.lower()}"
        if why is None:
            continue
        ledger.settle_open_chunks(job.id, ChunkStatus.FAILED, INTERRUPTED, only=ChunkStatus.RUNNING)
        ledger.settle_open_chunks(job.id, ChunkStatus.CANCELLED, f"not run: {INTERRUPTED}")
        counts = ledger.get_job(job.id, with_chunks=False).counts
        status = (
            JobStatus.CANCELLED
            if job.cancel_requested
            else adapter.job_status(StateType.CRASHED, "Crashed", counts)
        )
        settled.append(ledger.finish_job(job.id, status, error=job.error or why))
    return settled
