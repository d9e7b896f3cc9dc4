"""The thin adapter between Prefect's state machine and the Jobs View statuses.

Prefect says what happened to a run; the chunk outcomes say whether the job's
data is whole. Both directions live here, so the mapping has one home.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefect.client.schemas.objects import StateType
from prefect.states import Cancelled, Completed, Failed, State

from core.errors import JobCancelledError, JobFailedError, JobIncompleteError
from ledger.models import ChunkStatus, Job, JobStatus

# State names that move a SCHEDULED run out of the "queued" bucket.
_RUNNING_SCHEDULED_NAMES = frozenset({"AwaitingRetry"})

CHUNK_STATUS_BY_STATE: Mapping[StateType, ChunkStatus] = {
    StateType.SCHEDULED: ChunkStatus.PENDING,
    StateType.PENDING: ChunkStatus.PENDING,
    StateType.PAUSED: ChunkStatus.PENDING,
    StateType.RUNNING: ChunkStatus.RUNNING,
    StateType.CANCELLING: ChunkStatus.RUNNING,
    StateType.COMPLETED: ChunkStatus.COMPLETED,
    StateType.FAILED: ChunkStatus.FAILED,
    StateType.CRASHED: ChunkStatus.FAILED,
    StateType.CANCELLED: ChunkStatus.CANCELLED,
}

# For the terminal types the chunk outcomes decide: see ``job_status``.
JOB_STATUS_BY_STATE: Mapping[StateType, JobStatus] = {
    StateType.SCHEDULED: JobStatus.QUEUED,
    StateType.PENDING: JobStatus.QUEUED,
    StateType.PAUSED: JobStatus.QUEUED,
    StateType.RUNNING: JobStatus.RUNNING,
    StateType.CANCELLING: JobStatus.RUNNING,
    StateType.COMPLETED: JobStatus.COMPLETED,
    StateType.FAILED: JobStatus.FAILED,
    StateType.CRASHED: JobStatus.FAILED,
    StateType.CANCELLED: JobStatus.CANCELLED,
}


def chunk_status(state_type: StateType, state_name: str | None = None) -> ChunkStatus:
    """The Jobs View status of a chunk whose task run is in this Prefect state."""
    if state_type is StateType.SCHEDULED and state_name in _RUNNING_SCHEDULED_NAMES:
        return ChunkStatus.RUNNING
    return CHUNK_STATUS_BY_STATE[state_type]


def settle(
    counts: Mapping[ChunkStatus, int], *, cancelled: bool = False, job_error: bool = False
) -> JobStatus:
    """How a job that has stopped ended, by DESIGN.md's rules.

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


def job_status(
    state_type: StateType,
    state_name: str | None,
    counts: Mapping[ChunkStatus, int],
) -> JobStatus:
    """The Jobs View status of a job whose flow run is in this Prefect state."""
    if state_type is StateType.SCHEDULED and state_name in _RUNNING_SCHEDULED_NAMES:
        return JobStatus.RUNNING
    status = JOB_STATUS_BY_STATE[state_type]
    if status is JobStatus.COMPLETED:
        return settle(counts)
    if status is JobStatus.FAILED:
        return JobStatus.INCOMPLETE if counts.get(ChunkStatus.COMPLETED, 0) else JobStatus.FAILED
    return status


def final_state(job: Job) -> State[Any]:
    """The Prefect state a job's flow run ends in; incomplete is never green."""
    summary = (
        f"{job.counts.get(ChunkStatus.COMPLETED, 0)} of {job.total_chunks} chunks completed, "
        f"{job.records_synced} records"
    )
    if job.status is JobStatus.COMPLETED:
        return Completed(message=summary, data=job)
    if job.status is JobStatus.INCOMPLETE:
        return Failed(name="Incomplete", message=summary, data=JobIncompleteError(job))
    if job.status is JobStatus.CANCELLED:
        return Cancelled(message=summary, data=JobCancelledError(job))
    message = f"{job.error}; {summary}" if job.error else summary
    return Failed(message=message, data=JobFailedError(job))
