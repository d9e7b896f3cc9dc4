"""The ledger on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import alembic.command
import pytest
from sqlalchemy import text

import core.migrate
from chunking import SyncSize, plan_chunks
from core import (
    ChunkNotFoundError,
    ConfigError,
    JobConflictError,
    JobIdTakenError,
    JobNotFoundError,
)
from core.db import get_engine
from ledger import ChunkStatus, Drift, JobStatus, Ledger, get_ledger, render_tree
from ledger.reads import LedgerReader
from tests.factories import queued_job


@pytest.fixture
def ledger(db_url: str) -> Ledger:
    return get_ledger(db_url)


def new_job(ledger: Ledger, tenant: str = "acme", sync_type: str = "full", **kw: object) -> str:
    return queued_job(ledger, tenant, sync_type=sync_type, resources=("contacts", "deals"), **kw).id


def test_job_lifecycle_and_counts(ledger: Ledger) -> None:
    job_id = new_job(ledger)
    since = datetime(2026, 1, 1, tzinfo=UTC)
    ledger.add_chunks(
        job_id, plan_chunks([("contacts", 250), ("deals", 50)], 100), {"deals": since}
    )
    ledger.mark_running(job_id, ran_as_full=True)
    ledger.chunk_started(job_id, 1, "host:1")
    ledger.chunk_completed(job_id, 1, 100)
    ledger.chunk_started(job_id, 2, "host:1")
    ledger.chunk_error(job_id, 2, "503 from source")
    ledger.chunk_started(job_id, 2, "host:2")
    ledger.settle_chunk(
        job_id, 2, ChunkStatus.FAILED, "malformed page (resource=contacts, offset=100)"
    )
    ledger.settle_chunk(job_id, 1, ChunkStatus.FAILED, "ignored: chunk 1 already finished")

    job = ledger.get_job(job_id)
    assert job.status is JobStatus.RUNNING and job.ran_as_full
    assert job.resources == ("contacts", "deals")
    assert [c.status for c in job.chunks or ()] == ["completed", "failed", "pending", "pending"]
    c1, c2, c3, c4 = job.chunks or ()
    assert (c1.records, c1.attempts, c1.worker, c1.error) == (100, 1, "host:1", None)
    assert (c2.attempts, c2.worker) == (2, "host:2") and "offset=100" in (c2.error or "")
    assert c3.limit is None and c4.limit is None and c4.updated_since == since
    assert job.records_synced == 100
    assert job.counts[ChunkStatus.PENDING] == 2 and job.total_chunks == 4 and job.done_chunks == 2

    ledger.settle_open_chunks(job_id, ChunkStatus.CANCELLED, "cancelled")
    done = ledger.finish_job(job_id, JobStatus.INCOMPLETE)
    assert done.status is JobStatus.INCOMPLETE and done.finished_at is not None
    listed = ledger.list_jobs()[0]
    assert listed.counts == done.counts and listed.records_synced == 100 and listed.chunks is None


def test_a_finished_job_keeps_what_it_stored_and_its_drift(ledger: Ledger) -> None:
    job_id = new_job(ledger)
    ledger.add_chunks(job_id, plan_chunks([("contacts", 250)], 100), {})
    ledger.mark_running(job_id, ran_as_full=False)
    for index in (1, 2, 3):
        ledger.chunk_completed(job_id, index, 100)
    assert ledger.get_job(job_id).records_synced == 300  # while it runs: summed over chunks
    ledger.finish_job(job_id, JobStatus.COMPLETED, records=251, drift={"contacts": Drift(251, 250)})
    for job in (ledger.get_job(job_id), ledger.list_jobs()[0]):
        assert job.records_synced == 251 and job.drift == {"contacts": Drift(251, 250)}
    shown = ledger.get_job(job_id).to_dict()
    assert shown["drift"] == {"contacts": {"stored": 251, "source": 250, "difference": 1}}
    assert "drift: contacts 251 stored, 250 at the source (+1)" in render_tree(
        ledger.get_job(job_id)
    )


def test_one_active_job_per_tenant_and_type_even_when_racing(ledger: Ledger) -> None:
    results: list[str] = []
    barrier = threading.Barrier(6)

    def claim() -> None:
        barrier.wait()
        try:
            results.append(new_job(ledger))
        except JobConflictError as exc:
            results.append(f"refused:{exc.blocking_job_id}")

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if not r.startswith("refused")]
    assert len(winners) == 1
    assert all(r == f"refused:{winners[0]}" for r in results if r.startswith("refused"))
    # another type or tenant is free; a finished job frees its slot
    new_job(ledger, sync_type="partial")
    new_job(ledger, tenant="globex")
    ledger.finish_job(winners[0], JobStatus.COMPLETED)
    new_job(ledger)


def test_lookup_by_prefix_and_not_found(ledger: Ledger) -> None:
    job_id = new_job(ledger)
    assert ledger.get_job(job_id[:8]).id == job_id
    assert ledger.get_job(job_id.upper()).id == job_id
    with pytest.raises(JobNotFoundError, match="jobsview jobs"):
        ledger.get_job("00000000")
    with pytest.raises(JobNotFoundError):
        ledger.get_job("ab")
    with pytest.raises(JobNotFoundError):
        ledger.get_job("a%")
    with pytest.raises(JobIdTakenError, match="already taken"):
        ledger.create_job(
            job_id=job_id,
            tenant="x",
            sync_type="full",
            sync_size="small",
            chunk_size=100,
            resources=(),
        )
    with pytest.raises(ChunkNotFoundError, match="no chunk 7"):
        ledger.get_chunk(job_id, 7)


def test_the_read_side_cannot_write() -> None:
    writes = {"set_default_sync_size", "set_tenant_sync_size", "set_watermarks", "mark_running"}
    assert not writes & set(dir(LedgerReader))
    assert writes <= set(dir(Ledger))


def test_history_newest_first_with_filters(ledger: Ledger) -> None:
    ids = []
    for tenant in ("acme", "globex", "acme"):
        job_id = new_job(ledger, tenant=tenant)
        ledger.finish_job(job_id, JobStatus.COMPLETED if tenant == "acme" else JobStatus.FAILED)
        ids.append(job_id)
    assert [j.id for j in ledger.list_jobs()] == ids[::-1]
    assert [j.id for j in ledger.list_jobs(tenant="acme", limit=1)] == [ids[2]]
    assert [j.id for j in ledger.list_jobs(status=JobStatus.FAILED)] == [ids[1]]
    assert ledger.previous_job("acme", "full").id == ids[2]  # type: ignore[union-attr]
    assert ledger.previous_job("acme", "full", before=ids[2]).id == ids[0]  # type: ignore[union-attr]
    assert ledger.previous_job("acme", "partial") is None


def test_resume_lineage_and_stop_reasons(ledger: Ledger) -> None:
    parent = new_job(ledger)
    ledger.finish_job(parent, JobStatus.INCOMPLETE)
    child = new_job(ledger, parent_id=parent)
    assert ledger.get_job(parent).resumed_by == (child,)
    assert ledger.get_job(child).parent_id == parent
    assert ledger.stop_reason(child) is None
    ledger.record_job_error(child, "authentication failed")
    ledger.record_job_error(child, "a later error does not overwrite the first")
    assert ledger.stop_reason(child) == "authentication failed"
    ledger.update_job(child, cancel_requested=True)
    assert ledger.stop_reason(child) == "cancel requested"


def test_tenant_sync_sizes_and_watermarks(ledger: Ledger) -> None:
    assert ledger.tenant_sync_size("acme") is None
    ledger.set_tenant_sync_size("acme", SyncSize.LARGE)
    ledger.set_tenant_sync_size("acme", SyncSize.SMALL)
    ledger.set_tenant_sync_size("globex", SyncSize.XLARGE)
    assert ledger.tenant_sync_sizes() == {"acme": SyncSize.SMALL, "globex": SyncSize.XLARGE}
    ledger.set_tenant_sync_size("globex", None)
    assert ledger.tenant_sync_size("globex") is None

    first = datetime(2026, 11, 1, tzinfo=UTC)
    ledger.set_watermarks("acme", ["contacts", "deals"], first, "job-1")
    ledger.set_watermarks("acme", ["contacts"], first + timedelta(hours=1), "job-2")
    assert ledger.watermarks("acme") == {"contacts": first + timedelta(hours=1), "deals": first}
    assert ledger.watermarks("globex") == {}


def test_migrations_are_idempotent(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Alembic's upgrade run again on a ledger at head, as by a process whose check raced
    another's migration, changes nothing and keeps the jobs."""
    engine = get_engine(db_url)
    job_id = new_job(Ledger(engine))
    upgrades: list[str] = []
    upgrade = alembic.command.upgrade

    def counted(cfg: Any, revision: str) -> None:
        upgrades.append(revision)
        upgrade(cfg, revision)

    monkeypatch.setattr(core.migrate, "_migrated", set())  # as in a new process
    monkeypatch.setattr(core.migrate, "_at_head", lambda *_: False)  # the check raced
    monkeypatch.setattr(alembic.command, "upgrade", counted)
    assert Ledger(engine).get_job(job_id).id == job_id
    assert upgrades == ["head"]
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM jobsview_ledger_version")).all()
    assert [v for (v,) in versions] == [core.migrate._head("ledger:migrations")]


def test_unreachable_database_is_a_clear_error() -> None:
    url = "postgresql+psycopg://nobody:hunter2@127.0.0.1:1/nowhere"
    with pytest.raises(ConfigError) as info:
        get_ledger(url)
    message = str(info.value)
    assert "cannot open database" in message and "127.0.0.1:1" in message
    assert "hunter2" not in message
    with pytest.raises(ConfigError, match="unsupported database"):
        get_ledger("mysql://root@localhost/x")
