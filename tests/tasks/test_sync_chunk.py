"""``run_chunk`` over fake sources and destinations, with a real ledger on SQLite."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core import FatalSourceError, TransientSourceError
from ledger import ChunkStatus, JobStatus, Ledger
from tasks import sync_chunk
from tasks.plan_job import plan
from tasks.sync_chunk import ChunkSummary, StopCheck, run_chunk
from tests.factories import queued_job
from tests.tasks.fakes import FakeDestination, FakeSource


@pytest.fixture
def ledger(sqlite_ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    # Ask the ledger at every check, so that a stop is seen at the next page.
    monkeypatch.setattr(
        sync_chunk, "StopCheck", lambda ledger, job_id: StopCheck(ledger, job_id, interval=0)
    )
    return sqlite_ledger


def planned(ledger: Ledger, source: FakeSource) -> str:
    """A running job of tenant acme over contacts: chunks 1-3 of 100, the last open-ended."""
    job_id = queued_job(ledger, resources=("contacts",)).id
    assert plan(ledger, source, job_id, watermark_lag=timedelta(0)).total_chunks == 3
    return job_id


def run(
    ledger: Ledger, source: FakeSource, dest: FakeDestination, job_id: str, index: int
) -> ChunkSummary:
    return run_chunk(ledger, source, dest, job_id=job_id, tenant="acme", index=index, worker="test")


def test_a_chunk_reads_its_window_writes_it_and_completes(ledger: Ledger) -> None:
    source, dest = FakeSource({"contacts": 250}), FakeDestination()
    job_id = planned(ledger, source)
    summary = run(ledger, source, dest, job_id, 2)
    assert (summary.status, summary.records) == (ChunkStatus.COMPLETED, 100)
    assert source.windows == [("contacts", 100, 100)]
    assert dest.count("acme", "contacts", [job_id]) == 100 and dest.writes == 1
    chunk = ledger.get_chunk(job_id, 2)
    assert (chunk.status, chunk.records, chunk.attempts) == (ChunkStatus.COMPLETED, 100, 1)

    last = run(ledger, source, dest, job_id, 3)  # open-ended: to the end
    assert (last.status, last.records) == (ChunkStatus.COMPLETED, 50)
    again = run(ledger, source, dest, job_id, 2)  # a completed chunk is not read again
    assert (again.status, again.records) == (ChunkStatus.COMPLETED, 100)
    assert len(source.windows) == 2 and dest.writes == 2


def test_the_margins_lead_records_are_written_but_not_counted(ledger: Ledger) -> None:
    source, dest = FakeSource({"contacts": 250}, margin=7), FakeDestination()
    job_id = planned(ledger, source)
    summary = run(ledger, source, dest, job_id, 2)
    assert dest.count("acme", "contacts") == 107  # records 93-199
    assert summary.records == 100 and ledger.get_chunk(job_id, 2).records == 100


def test_a_job_cancelled_before_the_chunk_starts_reads_nothing(ledger: Ledger) -> None:
    source, dest = FakeSource({"contacts": 250}), FakeDestination()
    job_id = planned(ledger, source)
    ledger.request_cancel(job_id)
    summary = run(ledger, source, dest, job_id, 1)
    assert summary.status is ChunkStatus.CANCELLED
    assert summary.note == "not started: cancel requested"
    assert source.windows == [] and dest.writes == 0
    chunk = ledger.get_chunk(job_id, 1)
    assert (chunk.status, chunk.attempts) == (ChunkStatus.CANCELLED, 0)


def test_a_stop_while_reading_writes_nothing(ledger: Ledger) -> None:
    dest = FakeDestination()
    source = FakeSource({"contacts": 250}, page_size=20)
    job_id = planned(ledger, source)

    def cancel_at_the_third_page(number: int) -> None:
        if number == 2:
            ledger.request_cancel(job_id)

    source.before_page = cancel_at_the_third_page
    summary = run(ledger, source, dest, job_id, 1)
    assert summary.status is ChunkStatus.CANCELLED and summary.note == "stopped while reading"
    assert dest.writes == 0 and dest.count("acme") == 0
    chunk = ledger.get_chunk(job_id, 1)
    assert (chunk.status, chunk.records) == (ChunkStatus.CANCELLED, 0)


def test_a_source_error_is_the_chunks_and_is_raised_for_a_retry(ledger: Ledger) -> None:
    error = TransientSourceError("503 from the source", tenant="acme", resource="contacts")
    source, dest = FakeSource({"contacts": 250}, fail_on_page=1, error=error), FakeDestination()
    job_id = planned(ledger, source)
    with pytest.raises(TransientSourceError):
        run(ledger, source, dest, job_id, 1)
    chunk = ledger.get_chunk(job_id, 1)
    assert chunk.status is ChunkStatus.RUNNING  # Prefect retries it, or settles it
    assert chunk.error is not None and chunk.error.startswith("503 from the source")
    assert dest.writes == 0
    assert ledger.stop_reason(job_id) is None  # a transient error does not stop the job


def test_a_fatal_source_error_stops_the_job(ledger: Ledger) -> None:
    error = FatalSourceError("400 from the source: bad request")
    source, dest = FakeSource({"contacts": 250}, fail_on_page=0, error=error), FakeDestination()
    job_id = planned(ledger, source)
    with pytest.raises(FatalSourceError):
        run(ledger, source, dest, job_id, 3)
    assert ledger.get_chunk(job_id, 3).error == "400 from the source: bad request"
    assert ledger.stop_reason(job_id) == "400 from the source: bad request"
    assert ledger.get_job(job_id).status is JobStatus.RUNNING
