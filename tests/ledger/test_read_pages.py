"""Reads that stay cheap on a big ledger: previous jobs in bulk, pages of chunks, summaries."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import update

import core.migrate
from chunking import plan_chunks
from core.migrate import migrate
from ledger import ChunkStatus, JobStatus, Ledger, get_ledger
from ledger.chunk_reads import SEVERITY, StripCell
from ledger.schema import jobs
from tests.factories import queued_job


@pytest.fixture
def ledger(db_url: str) -> Ledger:
    return get_ledger(db_url)


def job_with_chunks(ledger: Ledger, n: int, failed: set[int], running: set[int]) -> str:
    job = queued_job(ledger)
    ledger.add_chunks(job.id, plan_chunks([("contacts", n * 100)], 100), {})
    ledger.mark_running(job.id, ran_as_full=True)
    for index in range(1, n + 1):
        if index in running or index in failed or index % 3:
            ledger.chunk_started(job.id, index, "host:1")
        if index in failed:
            ledger.settle_chunk(job.id, index, ChunkStatus.FAILED, f"boom {index}")
        elif index % 3 and index not in running:
            ledger.chunk_completed(job.id, index, 100)
    return job.id


def expected_strip(ledger: Ledger, job_id: str, cells: int) -> list[StripCell]:
    every = ledger.get_job(job_id).chunks or ()
    per_cell = -(-len(every) // cells)
    groups = [every[i : i + per_cell] for i in range(0, len(every), per_cell)]
    return [
        StripCell(min((c.status for c in g), key=SEVERITY.index), g[0].index, g[-1].index)
        for g in groups
    ]


def test_previous_jobs_in_one_go_are_previous_job_for_each(ledger: Ledger) -> None:
    ids = []
    for tenant, sync_type in [
        ("acme", "full"),
        ("acme", "partial"),
        ("globex", "full"),
        ("acme", "full"),
        ("acme", "full"),
        ("globex", "full"),
    ]:
        job_id = queued_job(ledger, tenant, sync_type=sync_type).id
        ledger.finish_job(job_id, JobStatus.FAILED if len(ids) == 3 else JobStatus.COMPLETED)
        ids.append(job_id)
    found = ledger.previous_jobs(ids)
    for job in ledger.list_jobs():
        one = ledger.previous_job(job.tenant, job.sync_type, before=job.id)
        assert (found[job.id].id if job.id in found else None) == (one.id if one else None)
    assert found[ids[4]].id == ids[3] and found[ids[4]].status is JobStatus.FAILED
    assert ids[0] not in found and ids[1] not in found
    assert ledger.previous_jobs([]) == {}


def test_a_page_of_chunks_with_counts_of_them_all(ledger: Ledger) -> None:
    job_id = job_with_chunks(ledger, 25, failed={4, 20}, running={25})
    whole = ledger.get_job(job_id)
    page = ledger.get_job(job_id, chunk_offset=10, chunk_limit=5)
    assert [c.index for c in page.chunks or ()] == [11, 12, 13, 14, 15]
    assert page.counts == whole.counts and page.records_synced == whole.records_synced
    assert page.counts[ChunkStatus.FAILED] == 2 and page.total_chunks == 25
    failed = ledger.get_job(job_id, chunk_limit=200, chunk_status=ChunkStatus.FAILED)
    assert [(c.index, c.error) for c in failed.chunks or ()] == [(4, "boom 4"), (20, "boom 20")]
    assert [c.index for c in ledger.get_job(job_id, chunk_offset=23).chunks or ()] == [24, 25]
    assert ledger.get_job(job_id, chunk_offset=99, chunk_limit=5).chunks == ()
    assert ledger.get_job(job_id, with_chunks=False, chunk_limit=5).chunks is None


@pytest.mark.parametrize("cells", [1, 4, 10, 400])
def test_the_status_strip_summarises_every_chunk(ledger: Ledger, cells: int) -> None:
    job_id = job_with_chunks(ledger, 25, failed={4, 20}, running={25})
    assert ledger.chunk_strip(job_id, cells) == expected_strip(ledger, job_id, cells)


def test_the_strip_of_a_resume_follows_its_own_chunks(ledger: Ledger) -> None:
    parent = job_with_chunks(ledger, 12, failed={4}, running=set())
    ledger.settle_open_chunks(parent, ChunkStatus.CANCELLED, "stopped")
    ledger.finish_job(parent, JobStatus.INCOMPLETE)
    child = queued_job(ledger, parent_id=parent).id
    assert ledger.copy_unfinished_chunks(parent, child) == 5  # chunks 3, 4, 6, 9, 12
    ledger.chunk_started(child, 4, "host:2")
    strip = ledger.chunk_strip(child, 2)
    assert strip == [
        StripCell(ChunkStatus.RUNNING, 3, 6),
        StripCell(ChunkStatus.PENDING, 9, 12),
    ]
    assert strip == expected_strip(ledger, child, 2)
    assert ledger.chunk_strip(queued_job(ledger, "empty").id, 400) == []


def test_the_span_of_the_chunks_timeline(ledger: Ledger) -> None:
    job_id = job_with_chunks(ledger, 6, failed=set(), running={5})
    every = ledger.get_job(job_id).chunks or ()
    span = ledger.chunk_span(job_id)
    assert span.first_start == min(c.started_at for c in every if c.started_at)
    assert span.last_finish == max(c.finished_at for c in every if c.finished_at)
    assert span.unfinished
    ledger.chunk_completed(job_id, 5, 100)
    assert not ledger.chunk_span(job_id).unfinished
    empty = ledger.chunk_span(queued_job(ledger, "empty").id)
    assert (empty.first_start, empty.last_finish, empty.unfinished) == (None, None, False)


def test_reads_never_wait_behind_a_writer_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = get_ledger(url)
    job_id = job_with_chunks(ledger, 3, failed=set(), running=set())
    core.migrate._migrated.clear()  # as a new process would open it
    with ledger.engine.begin() as writer:  # a chunk's long write holds the lock
        writer.execute(update(jobs).where(jobs.c.id == job_id).values(error="uncommitted"))
        started = time.monotonic()
        migrate(ledger.engine, "ledger:migrations", "jobsview_ledger_version")
        assert [j.id for j in ledger.list_jobs()] == [job_id]
        assert ledger.get_job(job_id).error is None  # what was committed
        assert ledger.chunk_strip(job_id, 400) and ledger.tenant_sync_sizes() == {}
        assert time.monotonic() - started < 5  # not SQLite's 30 s busy timeout
