"""The shared formatters: what a job's progress, a duration and a window read as everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chunking import ceil_div
from ledger.models import Chunk, ChunkStatus, empty_counts
from ledger.render import (
    duration,
    job_duration,
    job_header,
    progress_text,
    seconds_between,
    short_error,
    window_text,
)
from tests.factories import make_job

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def counts(**by_status: int) -> dict[ChunkStatus, int]:
    found = empty_counts()
    found.update({ChunkStatus(k): v for k, v in by_status.items()})
    return found


@pytest.mark.parametrize(
    ("given", "text"),
    [
        (counts(completed=37), "37 of 37 chunks completed"),
        (counts(completed=16, cancelled=21), "16 of 37 chunks completed, 21 cancelled"),
        (
            counts(completed=1, failed=2, running=3, pending=4),
            "1 of 10 chunks completed, 2 failed, 3 running, 4 pending",
        ),
        (counts(completed=0, failed=1), "0 of 1 chunk completed, 1 failed"),
        (
            counts(completed=1_000, cancelled=9_000),
            "1,000 of 10,000 chunks completed, 9,000 cancelled",
        ),
    ],
)
def test_progress_says_what_happened_to_every_chunk(
    given: dict[ChunkStatus, int], text: str
) -> None:
    assert progress_text(given) == text


def test_a_cancelled_job_never_reads_as_done() -> None:
    job = make_job("cancelled", counts=counts(completed=16, cancelled=21))
    assert "16 of 37 chunks completed, 21 cancelled" in "\n".join(job_header(job))
    assert "37/37" not in "\n".join(job_header(job))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, ""), (0.04, "0.0s"), (4.25, "4.2s"), (59.9, "59.9s"), (187, "3m07s"), (7500, "2h05m")],
)
def test_one_duration_format(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_durations_of_jobs_and_spans() -> None:
    assert seconds_between(T0, T0 + timedelta(seconds=90)) == 90
    assert seconds_between(None, T0) is None and seconds_between(T0, None) is None
    done = make_job(started_at=T0, finished_at=T0 + timedelta(seconds=65))
    assert job_duration(done) == "1m05s"
    assert job_duration(make_job("running", started_at=T0)) == ""
    queued_then_failed = make_job("failed", finished_at=T0 + timedelta(seconds=2))
    assert job_duration(queued_then_failed) == "2.0s"  # from its creation, never started


def test_one_window_format() -> None:
    closed = Chunk(1, "contacts", 0, 100, ChunkStatus.PENDING)
    open_ended = Chunk(2, "contacts", 2_000, None, ChunkStatus.PENDING)
    assert window_text(closed) == "contacts 0-99"
    assert window_text(open_ended) == "contacts 2000- (to the end)"
    assert window_text(closed, with_resource=False) == "0-99"
    assert window_text(open_ended, with_resource=False) == "2000-"


def test_short_errors_are_one_line() -> None:
    assert short_error(None) == ""
    assert short_error("boom\n  at page 3") == "boom at page 3"
    cut = short_error("x" * 200, 60)
    assert len(cut) == 60 and cut.endswith("…")


@pytest.mark.parametrize(("a", "b", "n"), [(0, 100, 0), (1, 100, 1), (100, 100, 1), (101, 100, 2)])
def test_ceil_div(a: int, b: int, n: int) -> None:
    assert ceil_div(a, b) == n


def test_an_empty_job_says_why_it_had_nothing_to_sync() -> None:
    none = counts()
    partial = make_job(sync_type="partial", counts=none, since=T0, records_synced=0)
    assert progress_text(partial) == (
        "nothing changed since the watermark (2026-11-28 12:00 UTC): no chunks to sync"
    )
    assert "0 of 0" not in "\n".join(job_header(partial))
    unknown = make_job(sync_type="partial", counts=none, since=None)
    assert progress_text(unknown) == "nothing changed since the watermark: no chunks to sync"
    first = make_job(sync_type="partial", counts=none, ran_as_full=True)
    assert progress_text(first) == "no records at the source: no chunks to sync"
    assert progress_text(make_job(counts=none)) == "no records at the source: no chunks to sync"
    failed = make_job("failed", sync_type="partial", counts=none, since=T0)
    assert progress_text(failed) == "0 of 0 chunks completed"  # planning failed: no claim
    assert progress_text(make_job(counts=counts(completed=2))) == "2 of 2 chunks completed"
