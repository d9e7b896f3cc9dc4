"""The adapter's one table, for every Prefect state type, in both directions."""

from __future__ import annotations

import pytest
from prefect.client.schemas.objects import StateType
from prefect.states import State

from flows import adapter
from ledger.models import ChunkStatus, JobStatus, empty_counts, job_outcome
from tasks.sync_chunk import ChunkSummary
from tests.factories import make_job


def counts(**by_status: int) -> dict[ChunkStatus, int]:
    result = empty_counts()
    for name, n in by_status.items():
        result[ChunkStatus(name)] = n
    return result


@pytest.mark.parametrize("state_type", list(StateType))
def test_every_prefect_state_type_is_mapped(state_type: StateType) -> None:
    assert state_type in adapter.STATES
    assert isinstance(adapter.chunk_status(state_type), ChunkStatus)
    assert isinstance(adapter.job_status(state_type, None, counts(completed=1)), JobStatus)
    run = adapter.run_state(state_type, None)
    assert run is not None and run.status is adapter.job_status(state_type)


@pytest.mark.parametrize(
    ("state_type", "name", "chunk", "job"),
    [
        (StateType.SCHEDULED, "Scheduled", "pending", "queued"),
        (StateType.SCHEDULED, "Late", "pending", "queued"),
        (StateType.SCHEDULED, "AwaitingConcurrencySlot", "pending", "queued"),
        (StateType.PENDING, "Pending", "pending", "queued"),
        (StateType.PAUSED, "Paused", "pending", "queued"),
        (StateType.SCHEDULED, "AwaitingRetry", "running", "running"),
        (StateType.RUNNING, "Running", "running", "running"),
        (StateType.RUNNING, "Retrying", "running", "running"),
        (StateType.CANCELLING, "Cancelling", "running", "running"),
        (StateType.COMPLETED, "Completed", "completed", "completed"),
        (StateType.COMPLETED, "Cached", "completed", "completed"),
        (StateType.FAILED, "Failed", "failed", "failed"),
        (StateType.CRASHED, "Crashed", "failed", "failed"),
        (StateType.CANCELLED, "Cancelled", "cancelled", "cancelled"),
    ],
)
def test_design_table(state_type: StateType, name: str, chunk: str, job: str) -> None:
    assert adapter.chunk_status(state_type, name) is ChunkStatus(chunk)
    assert adapter.job_status(state_type, name) is JobStatus(job)


@pytest.mark.parametrize(
    ("state_type", "outcome", "expected"),
    [
        (StateType.COMPLETED, counts(completed=3), "completed"),
        (StateType.COMPLETED, counts(), "completed"),
        (StateType.COMPLETED, counts(completed=2, failed=1), "incomplete"),
        (StateType.FAILED, counts(completed=2, failed=1), "incomplete"),
        (StateType.FAILED, counts(failed=3), "failed"),
        (StateType.FAILED, counts(), "failed"),
        (StateType.CRASHED, counts(completed=1, running=2), "incomplete"),
        (StateType.CRASHED, counts(running=2), "failed"),
        (StateType.CANCELLED, counts(completed=1, cancelled=2), "cancelled"),
        (StateType.RUNNING, counts(completed=1, running=2), "running"),
    ],
)
def test_ended_runs_are_judged_by_chunk_outcomes(
    state_type: StateType, outcome: dict[ChunkStatus, int], expected: str
) -> None:
    assert adapter.job_status(state_type, None, outcome) is JobStatus(expected)


def test_cancel_requested_only_for_cancelling_and_cancelled() -> None:
    asked = {t for t in StateType if adapter.cancel_requested(t)}
    assert asked == {StateType.CANCELLING, StateType.CANCELLED}
    assert not adapter.cancel_requested(None)


def test_job_outcome_rules() -> None:
    assert job_outcome(counts(completed=2)) is JobStatus.COMPLETED
    assert job_outcome(counts()) is JobStatus.COMPLETED
    assert job_outcome(counts(completed=1, failed=1)) is JobStatus.INCOMPLETE
    assert job_outcome(counts(failed=2)) is JobStatus.FAILED
    assert job_outcome(counts(completed=2), job_error=True) is JobStatus.FAILED
    assert job_outcome(counts(completed=1, cancelled=1), cancelled=True) is JobStatus.CANCELLED
    assert job_outcome(counts(), cancelled=True) is JobStatus.CANCELLED
    # a cancel that arrived after the last chunk completed changed nothing
    assert job_outcome(counts(completed=3), cancelled=True) is JobStatus.COMPLETED


def _final(status: str, **kw: object) -> State:  # type: ignore[type-arg]
    return adapter.job_state(make_job(status=status, **kw))


def test_job_final_states_never_show_incomplete_as_green() -> None:
    assert _final("completed").type is StateType.COMPLETED
    incomplete = _final("incomplete")
    assert (incomplete.type, incomplete.name) == (StateType.FAILED, "Incomplete")
    assert incomplete.message == "2 of 3 chunks completed, 1 failed; 200 records"  # what happened
    failed = _final("failed", error="authentication failed")
    assert failed.type is StateType.FAILED and "authentication failed" in (failed.message or "")
    assert _final("cancelled").type is StateType.CANCELLED
    with pytest.raises(ValueError, match="has not finished"):
        _final("running")
    # and read back, each final state gives the job's status again
    for status in ("completed", "incomplete", "failed", "cancelled"):
        job = make_job(status=status)
        state = adapter.job_state(job)
        assert adapter.job_status(state.type, state.name, job.counts) is job.status


def test_chunk_final_states() -> None:
    done = adapter.chunk_state(ChunkSummary(3, ChunkStatus.COMPLETED, 100))
    assert done.type is StateType.COMPLETED and done.message == "100 records"
    stopped = adapter.chunk_state(ChunkSummary(4, ChunkStatus.CANCELLED, note="not started"))
    assert (stopped.type, stopped.message) == (StateType.CANCELLED, "not started")
    for summary in (ChunkSummary(3, ChunkStatus.COMPLETED), ChunkSummary(4, ChunkStatus.CANCELLED)):
        state = adapter.chunk_state(summary)
        assert adapter.chunk_status(state.type, state.name) is summary.status
    with pytest.raises(ValueError):
        adapter.chunk_state(ChunkSummary(5, ChunkStatus.RUNNING))


def test_refused_deployment_runs_are_not_red() -> None:
    from core.errors import JobConflictError

    state = adapter.refused_state(JobConflictError("acme", "full", "abc"))
    assert (state.type, state.name) == (StateType.CANCELLED, "Refused")
    assert "already queued or running" in (state.message or "")
