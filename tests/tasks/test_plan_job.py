"""Planning a job that was settled behind its run's back while it counted."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from core import JobStateError
from ledger import JobStatus, Ledger, get_ledger
from tasks import plan
from tests.factories import queued_job
from tests.slow_source import SlowCount


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
