"""Faults around a run rather than inside it: signals to `jobsview run --json`, a destination
that is not ours, a full and a partial at once, a hand-off that reconcile must not take for
dead, and a source whose totals lie. Each test checks the job's final status, its records
against the rows stored, exactly one outcome event, and the follow-up (none, here)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from core.db import utcnow
from core.settings import load_settings
from flows.claim import claim
from flows.settle import reconcile
from ledger import ChunkStatus, Drift, Job, JobStatus
from tests.databases import postgres_schema
from tests.faults.conftest import (
    flow_run_ended,
    jobs_of,
    one_outcome_event,
    report,
    resumes,
    running_job,
    settled,
    start,
)
from tests.platform import Platform, command
from views.web.launcher import Launcher


def jobsview_run(prod: Platform, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [command("jobsview"), "run", "--tenant", "cli", *args, "--json"],
        env=prod.env | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def cli_job(prod: Platform) -> Job:
    """The CLI run's job, once two chunks completed."""

    def check() -> Job | None:
        found = [j for j in jobs_of(prod, "cli") if j.status is JobStatus.RUNNING]
        return found[0] if found and found[0].counts[ChunkStatus.COMPLETED] >= 2 else None

    job = prod.wait_for("the CLI run's chunks", check, 60)
    assert isinstance(job, Job)
    return job


def one_document(out: str) -> dict[str, Any]:
    document = json.loads(out)  # exactly one document: anything else does not parse
    assert isinstance(document, dict)
    return document


@pytest.mark.parametrize(
    ("case", "signals"),
    [("5. Ctrl-C twice", [signal.SIGINT, signal.SIGINT]), ("6. SIGTERM", [signal.SIGTERM])],
)
def test_a_signal_to_jobsview_run_cancels_prints_one_document_and_exits_4(
    prod: Platform, case: str, signals: list[signal.Signals]
) -> None:
    prod.source.faults.slow_ms = 40
    proc = jobsview_run(prod, "--type", "full", "--sync-size", "small")
    job = cli_job(prod)
    asked = time.monotonic()
    for signum in signals:
        proc.send_signal(signum)
        time.sleep(0.3)
    out, err = proc.communicate(timeout=60)
    took = time.monotonic() - asked
    assert proc.returncode == 4, err
    document = one_document(out)
    assert document["id"] == job.id and document["status"] == "cancelled"
    done = prod.ledger.get_job(job.id)
    assert done.status is JobStatus.CANCELLED and done.cancel_requested
    assert not done.counts[ChunkStatus.PENDING] and not done.counts[ChunkStatus.RUNNING]
    assert document["counts"] == {s.value: n for s, n in done.counts.items()}
    stored = sum(c.records for c in done.chunks or () if c.status is ChunkStatus.COMPLETED)
    assert done.records_synced == stored
    one_outcome_event(prod, done)
    assert resumes(prod, done, wait=2) == []
    report(f"{case} to jobsview run --json", done, 1, "none (cancelled)", took)
    prod.destination.engine.dispose()


def test_a_destination_table_of_another_schema_fails_the_job_at_once(prod: Platform) -> None:
    with postgres_schema() as url:
        foreign = create_engine(url)
        with foreign.begin() as conn:
            conn.execute(text("CREATE TABLE records (id text PRIMARY KEY, payload text)"))
        foreign.dispose()
        began = time.monotonic()
        proc = jobsview_run(prod, "--type", "partial", JOBSVIEW_DESTINATION_URL=url)
        out, err = proc.communicate(timeout=120)
        took = time.monotonic() - began
    assert proc.returncode == 1, err
    document = one_document(out)
    assert document["status"] == "failed"
    error = document["error"]
    assert 'has a table "records" that is not Jobs View\'s' in error
    assert "it lacks the columns tenant, resource" in error and "JOBSVIEW_DESTINATION_URL" in error
    assert "check that it is running" not in error + err
    done = prod.ledger.get_job(document["id"])
    assert done.status is JobStatus.FAILED and done.total_chunks == 0 and done.records_synced == 0
    one_outcome_event(prod, done)
    assert resumes(prod, done, wait=2) == []
    report("4. destination's records table of another schema", done, 1, "none (failed)", took)


def test_a_full_and_a_partial_at_once_each_count_what_they_stored(prod: Platform) -> None:
    store = prod.source.store
    first = settled(prod, running_job(prod, start("twin-full").id, completed=0).id)
    assert first.status is JobStatus.COMPLETED and first.records_synced == 6_000
    store.update("twin", "contacts", range(0, 6_000, 3))  # 2,000 changed since the watermark
    prod.source.faults.slow_ms = 250  # the full takes ~10 s: the partial runs inside it
    began = time.monotonic()
    full_run = start("twin-full", parameters={"sync_size": "small"})
    full_job = running_job(prod, full_run.id, completed=2)
    partial = settled(prod, running_job(prod, start("twin-partial").id, completed=0).id)
    full = settled(prod, full_job.id)
    took = time.monotonic() - began
    assert full.status is partial.status is JobStatus.COMPLETED
    overlap = (
        full.started_at and partial.finished_at and full.started_at < partial.finished_at
    ) and (partial.started_at and full.finished_at and partial.started_at < full.finished_at)
    assert overlap, "the two jobs did not run at the same time"
    assert (full.records_synced, full.drift) == (6_000, {})
    assert (partial.records_synced, partial.drift) == (2_000, {})
    prod.assert_destination_equals_source("twin")
    for job in (full, partial):
        one_outcome_event(prod, job)
        assert resumes(prod, job) == []
    report("3. a full and a partial of one tenant at once", full, 1, "none (completed)", took)


def test_a_handed_off_job_is_never_taken_for_dead_before_its_run_adopts_it(
    prod: Platform,
) -> None:
    """A job the web claimed long ago (it waited for a worker) and handed to its deployment:
    reconcile, running all the while, must not settle it between the run going Running and
    the run adopting it."""
    settings = load_settings()
    job = claim(prod.ledger, settings, tenant="racer", sync_type="full")
    prod.ledger.update_job(job.id, created_at=utcnow() - timedelta(minutes=10))
    Launcher(settings).run(job, prod.ledger)  # the web's hand-off, as `jobsview serve` does
    began = time.monotonic()
    while not (adopted := prod.ledger.get_job(job.id, with_chunks=False)).heartbeat_at:
        assert job.id not in [j.id for j in reconcile(settings)], "taken for dead"
        assert time.monotonic() - began < 60, "the run never adopted its job"
        time.sleep(0.05)
    assert adopted.status is not JobStatus.FAILED
    done = settled(prod, job.id)
    took = time.monotonic() - began
    assert done.status is JobStatus.COMPLETED and done.error is None
    assert flow_run_ended(prod, str(done.flow_run_id)).state_type.value == "COMPLETED"
    prod.assert_destination_equals_source("racer")
    assert done.records_synced == prod.destination.count("racer")
    one_outcome_event(prod, done)
    report("7. hand-off from the web, reconcile racing", done, 1, "none (completed)", took)


def test_a_total_ten_times_too_big_completes_exactly_in_few_requests(prod: Platform) -> None:
    prod.source.faults.lie_total = 2_500
    pages: list[tuple[str, int]] = []

    def count_pages(tenant: str, resource: str, offset: int, limit: int) -> None:
        if tenant == "liar" and limit > 1:  # a limit of 1 is a count
            pages.append((resource, offset))

    prod.source.store.before_page = count_pages
    began = time.monotonic()
    run = start("liar-full", parameters={"sync_size": "small"})
    done = settled(prod, running_job(prod, run.id, completed=0).id, timeout=120)
    took = time.monotonic() - began
    assert done.status is JobStatus.COMPLETED and done.records_synced == 250
    chunks = done.chunks or ()
    assert len(chunks) == 50 and all(c.status is ChunkStatus.COMPLETED for c in chunks)
    assert [c.records for c in chunks[:3]] == [100, 100, 50]
    assert all(c.records == 0 for c in chunks[3:])  # past the end of the data
    assert len(pages) <= 3 * len(chunks), f"{len(pages)} page requests for {len(chunks)} chunks"
    assert done.drift == {"contacts": Drift(250, 2_500), "deals": Drift(0, 2_500)}
    prod.assert_destination_equals_source("liar")
    one_outcome_event(prod, done)
    assert resumes(prod, done) == []
    report("8. total 10x too big", done, 1, f"none; {len(pages)} page requests", took)
