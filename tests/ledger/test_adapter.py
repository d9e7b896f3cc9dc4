from __future__ import annotations

import pytest
from prefect.client.schemas.objects import StateType
from prefect.states import State

from ledger import adapter
from ledger.models import ChunkStatus, Job, JobStatus, empty_counts
from tests.factories import make_job


def counts(**by_status: int) -> dict[ChunkStatus, int]:
    result = empty_counts()
    for name, n in by_status.items():
        result[ChunkStatus(name)] = n
    return result


@pytest.mark.parametrize("state_type", list(StateType))
def test_every_prefect_state_type_is_mapped(state_type: StateType) -> None:
    assert state_type in adapter.CHUNK_STATUS_BY_STATE
    assert state_type in adapter.JOB_STATUS_BY_STATE
    assert isinstance(adapter.chunk_status(state_type), ChunkStatus)
    assert isinstance(adapter.job_status(state_type, None, counts(completed=1)), JobStatus)


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
        (StateType.CANCELLED, "Cancelled", "cancelled", "cancelled"),
    ],
)
def test_design_table(state_type: StateType, name: str, chunk: str, job: str) -> None:
    assert adapter.chunk_status(state_type, name) is ChunkStatus(chunk)
    assert adapter.job_status(state_type, name, counts(completed=1, pending=1)) is JobStatus(job)


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
    ],
)
def test_terminal_states_are_judged_by_chunk_outcomes(
    state_type: StateType, outcome: dict[ChunkStatus, int], expected: str
) -> None:
    assert adapter.job_status(state_type, None, outcome) is JobStatus(expected)
    assert adapter.chunk_status(StateType.COMPLETED) is ChunkStatus.COMPLETED
    assert adapter.chunk_status(StateType.CRASHED) is ChunkStatus.FAILED


def test_settle_rules() -> None:
    assert adapter.settle(counts(completed=2)) is JobStatus.COMPLETED
    assert adapter.settle(counts()) is JobStatus.COMPLETED
    assert adapter.settle(counts(completed=1, failed=1)) is JobStatus.INCOMPLETE
    assert adapter.settle(counts(failed=2)) is JobStatus.FAILED
    assert adapter.settle(counts(completed=2), job_error=True) is JobStatus.FAILED
    assert adapter.settle(counts(completed=1, cancelled=1), cancelled=True) is JobStatus.CANCELLED
    assert adapter.settle(counts(), cancelled=True) is JobStatus.CANCELLED
    # a cancel that arrived after the last chunk completed changed nothing
    assert adapter.settle(counts(completed=3), cancelled=True) is JobStatus.COMPLETED


def _final(job: Job) -> State:  # type: ignore[type-arg]
    return adapter.final_state(job)


def test_final_states_never_show_incomplete_as_green() -> None:
    assert _final(make_job(status="completed")).type is StateType.COMPLETED
    incomplete = _final(make_job(status="incomplete"))
    assert (incomplete.type, incomplete.name) == (StateType.FAILED, "Incomplete")
    failed = _final(make_job(status="failed", error="authentication failed"))
    assert failed.type is StateType.FAILED and "authentication failed" in (failed.message or "")
    assert _final(make_job(status="cancelled")).type is StateType.CANCELLED
