"""The one translation between Prefect's states and the Jobs View's statuses, both ways.

Prefect says what happened to a run; the chunk outcomes say whether the job's data is whole.
``STATES`` maps each Prefect state to a Jobs View status; the functions below it are the only
code that reads a Prefect state as a status, or turns an outcome into a Prefect state.

Back the other way, a job's flow run ends ``Completed``, ``Failed`` named ``Incomplete``,
``Failed`` or ``Cancelled``; a chunk's task run ends ``Completed`` or ``Cancelled`` (a chunk
that fails raises, and Prefect fails its task run after the retries). An incomplete job is
never green.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from prefect.client.schemas.objects import StateType
from prefect.states import Cancelled, Completed, Failed, State

from core.errors import (
    JobCancelledError,
    JobFailedError,
    JobIncompleteError,
    JobsViewError,
)
from ledger.models import ChunkStatus, Job, JobStatus, job_outcome
from ledger.recovery import RunState
from ledger.render import drift_text, progress_text
from tasks.sync_chunk import ChunkSummary

Q, R = JobStatus.QUEUED, JobStatus.RUNNING

# Prefect state type -> (job status, chunk status). For the terminal types the job's status
# is refined by its chunk outcomes (``job_status``).
STATES: Mapping[StateType, tuple[JobStatus, ChunkStatus]] = {
    StateType.SCHEDULED: (Q, ChunkStatus.PENDING),  # Scheduled, Late, AwaitingConcurrencySlot
    StateType.PENDING: (Q, ChunkStatus.PENDING),
    StateType.PAUSED: (Q, ChunkStatus.PENDING),
    StateType.RUNNING: (R, ChunkStatus.RUNNING),  # Running, Retrying
    StateType.CANCELLING: (R, ChunkStatus.RUNNING),  # a cancel was requested
    StateType.COMPLETED: (JobStatus.COMPLETED, ChunkStatus.COMPLETED),  # Completed, Cached
    StateType.FAILED: (JobStatus.FAILED, ChunkStatus.FAILED),
    StateType.CRASHED: (JobStatus.FAILED, ChunkStatus.FAILED),
    StateType.CANCELLED: (JobStatus.CANCELLED, ChunkStatus.CANCELLED),
}

# A SCHEDULED state that is a retry in progress, not a wait to start.
RUNNING_SCHEDULED_NAMES = frozenset({"AwaitingRetry"})

# Flow run states in which the job was asked to stop.
CANCEL_REQUESTED = frozenset({StateType.CANCELLING, StateType.CANCELLED})

INCOMPLETE_STATE_NAME = "Incomplete"
REFUSED_STATE_NAME = "Refused"


def _row(state_type: StateType, name: str | None) -> tuple[JobStatus, ChunkStatus]:
    if state_type is StateType.SCHEDULED and name in RUNNING_SCHEDULED_NAMES:
        return STATES[StateType.RUNNING]
    return STATES[state_type]


def chunk_status(state_type: StateType, name: str | None = None) -> ChunkStatus:
    """The Jobs View status of a chunk whose task run is in this Prefect state."""
    return _row(state_type, name)[1]


def job_status(
    state_type: StateType, name: str | None = None, counts: Mapping[ChunkStatus, int] | None = None
) -> JobStatus:
    """The Jobs View status of a job whose flow run is in this state.

    With the chunk outcomes (``counts``), a run that ended is judged by them: it completed
    only if every chunk did, and failing after some chunks completed is incomplete.
    """
    status = _row(state_type, name)[0]
    if counts is None or not status.finished or status is JobStatus.CANCELLED:
        return status
    if status is JobStatus.COMPLETED:
        return job_outcome(counts)
    return JobStatus.INCOMPLETE if counts.get(ChunkStatus.COMPLETED, 0) else JobStatus.FAILED


def run_state(
    state_type: StateType | None, name: str | None, since: datetime | None = None
) -> RunState | None:
    """A flow run's state as the ledger's recovery reads it; ``since``: when it entered it."""
    if state_type is None:
        return None
    return RunState(job_status(state_type, name), name or state_type.value.title(), since)


def cancel_requested(state_type: StateType | None) -> bool:
    """Whether a flow run in this state was asked to stop (from the UI or the API)."""
    return state_type in CANCEL_REQUESTED


# -- back: outcomes as Prefect states ----------------------------------------------------------


def chunk_state(summary: ChunkSummary) -> State[Any]:
    """The final state of a chunk's task run: a stopped or unstarted chunk is not green."""
    if summary.status is ChunkStatus.CANCELLED:
        return Cancelled(message=summary.note or "cancelled", data=summary)
    if summary.status is ChunkStatus.COMPLETED:
        return Completed(message=f"{summary.records:,} records", data=summary)
    raise ValueError(f"chunk {summary.index} has not finished: {summary.status.value}")


def job_state(job: Job) -> State[Any]:
    """The final state of a job's flow run; incomplete is never green."""
    summary = f"{progress_text(job)}; {job.records_synced:,} records"
    if job.drift:
        summary += f"; {drift_text(job)}"
    if job.status is JobStatus.COMPLETED:
        return Completed(message=summary, data=job)
    if job.status is JobStatus.INCOMPLETE:
        return Failed(name=INCOMPLETE_STATE_NAME, message=summary, data=JobIncompleteError(job))
    if job.status is JobStatus.CANCELLED:
        return Cancelled(message=summary, data=JobCancelledError(job))
    if job.status is JobStatus.FAILED:
        message = f"{job.error}; {summary}" if job.error else summary
        return Failed(message=message, data=JobFailedError(job))
    raise ValueError(f"job {job.id} has not finished: {job.status.value}")


def refused_state(exc: JobsViewError) -> State[Any]:
    """A deployment run refused by the one-run rule did nothing: it ends cancelled, not red."""
    return Cancelled(name=REFUSED_STATE_NAME, message=str(exc), data=exc)
