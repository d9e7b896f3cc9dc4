"""A job settled behind its run's back (reconciled, say) takes no more writes from that run."""

from __future__ import annotations

import pytest

from chunking import plan_chunks
from core import JobStateError
from ledger import JobStatus, Ledger, get_ledger
from tests.factories import queued_job


@pytest.fixture
def ledger(db_url: str) -> Ledger:
    return get_ledger(db_url)


def queued(ledger: Ledger, tenant: str = "acme") -> str:
    return queued_job(ledger, tenant).id


def settled(ledger: Ledger) -> str:
    """A queued job reconciled as failed, and the next run's job claimed in its place."""
    job_id = queued(ledger)
    ledger.finish_job(job_id, JobStatus.FAILED, error="interrupted: no heartbeat")
    queued(ledger)
    return job_id


def test_mark_running_refuses_a_settled_job_and_leaves_it_settled(ledger: Ledger) -> None:
    job_id = settled(ledger)
    with pytest.raises(JobStateError, match=f"job {job_id} is failed, not queued"):
        ledger.mark_running(job_id, ran_as_full=False)
    job = ledger.get_job(job_id)
    assert job.status is JobStatus.FAILED and job.started_at is None
    assert job.error == "interrupted: no heartbeat"


def test_mark_running_refuses_a_job_already_running(ledger: Ledger) -> None:
    job_id = queued(ledger)
    ledger.mark_running(job_id, ran_as_full=False)
    with pytest.raises(JobStateError, match="is running, not queued"):
        ledger.mark_running(job_id, ran_as_full=False)


def test_chunks_are_not_added_to_a_settled_job(ledger: Ledger) -> None:
    job_id = settled(ledger)
    with pytest.raises(JobStateError, match="is failed, not queued"):
        ledger.add_chunks(job_id, plan_chunks([("contacts", 300)], 100), {})
    assert ledger.get_job(job_id).chunks == ()


def test_a_resume_copies_no_chunks_onto_a_settled_job(ledger: Ledger) -> None:
    parent = queued(ledger, "parent")
    ledger.add_chunks(parent, plan_chunks([("contacts", 300)], 100), {})
    ledger.finish_job(parent, JobStatus.FAILED)
    job_id = settled(ledger)
    with pytest.raises(JobStateError, match="is failed, not queued"):
        ledger.copy_unfinished_chunks(parent, job_id)
    assert ledger.get_job(job_id).chunks == ()


def test_planning_beats_and_a_settled_job_takes_no_beat(ledger: Ledger) -> None:
    job_id = queued(ledger, "alive")
    ledger.add_chunks(job_id, plan_chunks([("contacts", 300)], 100), {})
    assert ledger.get_job(job_id).heartbeat_at is not None  # adding chunks is a sign of life
    gone = settled(ledger)
    ledger.heartbeat(gone)
    assert ledger.get_job(gone).heartbeat_at is None
