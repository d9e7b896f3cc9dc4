"""Planning a job: its chunks, windows and watermarks, a resume, a plan too large, and a job
settled behind its run's back while it counted."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from chunking import plan_chunks
from core import JobStateError
from ledger import ChunkStatus, JobStatus, Ledger, get_ledger
from ledger.recovery import close_chunks, outcome
from tasks import plan
from tasks.sync_chunk import run_chunk
from tests.factories import queued_job
from tests.slow_source import SlowCount
from tests.tasks.fakes import FakeDestination, FakeSource


def claimed(ledger: Ledger, resources: tuple[str, ...] = ("contacts", "deals")) -> str:
    return queued_job(ledger, resources=resources).id


def plan_in_thread(
    ledger: Ledger, source: SlowCount, job_id: str
) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["job"] = plan(ledger, source, job_id, watermark_lag=timedelta(0))
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread, box


def test_a_job_settled_while_it_planned_is_left_settled(db_url: str) -> None:
    ledger = get_ledger(db_url)
    source = SlowCount()
    job_id = claimed(ledger)
    thread, box = plan_in_thread(ledger, source, job_id)
    assert source.counting.wait(30)
    # Reconciled as failed from elsewhere, and the next run claimed in its place.
    ledger.finish_job(job_id, JobStatus.FAILED, error="interrupted: no heartbeat since 12:00")
    claimed(ledger)
    source.go.set()
    thread.join(30)

    error = box.get("error")
    assert isinstance(error, JobStateError), error  # not a raw IntegrityError
    assert str(error) == (
        f"job {job_id} was settled as failed while planning "
        "(interrupted: no heartbeat since 12:00); not planning it"
    )
    job = ledger.get_job(job_id)
    assert job.status is JobStatus.FAILED and job.chunks == () and job.started_at is None
    assert job.error == "interrupted: no heartbeat since 12:00"


def test_a_job_planned_undisturbed_runs(db_url: str) -> None:
    ledger = get_ledger(db_url)
    source = SlowCount(total=250)
    source.go.set()
    job = plan(ledger, source, claimed(ledger, ("contacts",)), watermark_lag=timedelta(0))
    assert job.status is JobStatus.RUNNING and job.total_chunks == 3


def test_a_full_job_gets_the_planners_chunks(sqlite_ledger: Ledger) -> None:
    source = FakeSource({"contacts": 250, "deals": 100})
    job = plan(sqlite_ledger, source, claimed(sqlite_ledger), watermark_lag=timedelta(0))
    assert job.status is JobStatus.RUNNING and not job.ran_as_full
    assert source.counted == [("acme", "contacts", None), ("acme", "deals", None)]
    chunks = sqlite_ledger.get_job(job.id).chunks or ()
    windows = [(c.index, c.resource, c.offset, c.limit) for c in chunks]
    expected = plan_chunks([("contacts", 250), ("deals", 100)], 100)
    assert windows == [(w.index, w.resource, w.offset, w.limit) for w in expected]
    assert all(c.status is ChunkStatus.PENDING and c.updated_since is None for c in chunks)


def test_a_partial_job_counts_from_the_watermarks_less_the_lag(sqlite_ledger: Ledger) -> None:
    mark = datetime(2026, 3, 1, 12, tzinfo=UTC)
    sqlite_ledger.set_watermarks("acme", ["contacts"], mark, "an-earlier-job")
    source = FakeSource({"contacts": 30, "deals": 20})
    job_id = queued_job(sqlite_ledger, sync_type="partial", resources=("contacts", "deals")).id
    job = plan(sqlite_ledger, source, job_id, watermark_lag=timedelta(minutes=5))
    since = mark - timedelta(minutes=5)
    assert source.counted == [("acme", "contacts", since), ("acme", "deals", None)]
    chunks = sqlite_ledger.get_job(job_id).chunks or ()
    assert [(c.resource, c.updated_since) for c in chunks] == [("contacts", since), ("deals", None)]
    assert job.ran_as_full  # deals had no watermark: read in full


def test_a_plan_too_large_fails_the_job_with_the_reason(sqlite_ledger: Ledger) -> None:
    source = FakeSource({"contacts": 1_001})
    job_id = claimed(sqlite_ledger, ("contacts",))
    job = plan(sqlite_ledger, source, job_id, watermark_lag=timedelta(0), max_chunks=10)
    assert job.total_chunks == 0 and sqlite_ledger.stop_reason(job_id) == job.error
    assert job.error is not None and job.error.startswith("planning failed: contacts counts 1,001")
    # a job-level error: it settles failed, with it
    assert outcome(close_chunks(sqlite_ledger, job_id)) == (JobStatus.FAILED, job.error)


def test_a_resume_plans_its_parents_unfinished_windows_without_counting(
    sqlite_ledger: Ledger,
) -> None:
    source, dest = FakeSource({"contacts": 250}), FakeDestination()
    parent = plan(
        sqlite_ledger, source, claimed(sqlite_ledger, ("contacts",)), watermark_lag=timedelta(0)
    )
    run_chunk(sqlite_ledger, source, dest, job_id=parent.id, tenant="acme", index=2, worker="t")
    sqlite_ledger.settle_open_chunks(parent.id, ChunkStatus.FAILED, "gave up")
    sqlite_ledger.finish_job(parent.id, JobStatus.INCOMPLETE)
    source.counted.clear()

    child_id = queued_job(sqlite_ledger, resources=("contacts",), parent_id=parent.id).id
    child = plan(sqlite_ledger, source, child_id, watermark_lag=timedelta(0))
    assert child.status is JobStatus.RUNNING and source.counted == []
    chunks = sqlite_ledger.get_job(child_id).chunks or ()
    assert [(c.offset, c.limit, c.status) for c in chunks] == [
        (0, 100, ChunkStatus.PENDING),
        (200, None, ChunkStatus.PENDING),
    ]
