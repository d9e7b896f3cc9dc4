"""Exact syncs while the source changes, and bounded work on sources that lie (real demo source).

Each change is made at a precise moment: the demo source's ``before_page`` hook acts once the
ledger says chunk 1 has completed, as in the probe that found records lost to shifting windows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from demo.lies import Drip, DuplicateRule, HugeRecord
from ledger import ChunkStatus, Job, JobStatus
from ledger.recovery import request_cancel
from tests.factories import unique
from tests.support import SyncEnv


def outcome(state: Any) -> Job:
    result = state.result(raise_on_failure=False)
    return result.job if hasattr(result, "job") else result


def once_chunk_1_completed(env: SyncEnv, tenant: str, change: Callable[[], None]) -> None:
    """Run ``change`` before the first page served after chunk 1 of the tenant's job completed."""
    done = threading.Event()

    def hook(hook_tenant: str, resource: str, offset: int, limit: int) -> None:
        if done.is_set() or hook_tenant != tenant:
            return
        jobs = env.ledger.list_jobs(tenant=tenant)
        if jobs and jobs[0].status is JobStatus.RUNNING:
            chunk = env.ledger.get_chunk(jobs[0].id, 1)
            if chunk.status is ChunkStatus.COMPLETED:
                done.set()
                change()

    env.source.store.before_page = hook


def full_sync(env: SyncEnv, tenant: str, **kwargs: Any) -> Job:
    return outcome(
        env.sync(tenant=tenant, sync_type="full", sync_size="small", return_state=True, **kwargs)
    )


def stored_ids(env: SyncEnv, tenant: str, resource: str = "contacts") -> set[str]:
    return set(env.destination.read(tenant, resource))


def source_ids(env: SyncEnv, tenant: str, resource: str = "contacts") -> set[str]:
    return {str(r["id"]) for r in env.source.store.records(tenant, resource)}


@pytest.fixture
def tenant(sync_env: SyncEnv) -> str:
    name = unique("drift")
    sync_env.source.store.add_tenant(name, {"contacts": 450, "deals": 0})
    sync_env.set(max_concurrent_chunks=1)
    return name


def test_a_deletion_mid_run_loses_no_live_record_and_shows_as_drift(
    sync_env: SyncEnv, tenant: str
) -> None:
    before = source_ids(sync_env, tenant)
    gone: list[Any] = []
    store = sync_env.source.store
    once_chunk_1_completed(
        sync_env, tenant, lambda: gone.extend(store.delete(tenant, "contacts", [50]))
    )
    job = full_sync(sync_env, tenant)
    assert job.status is JobStatus.COMPLETED and gone
    live = before - {str(gone[0])}
    assert live <= stored_ids(sync_env, tenant)  # the record at 100 moved to 99: still read
    # chunk 1 stored the deleted record: 450 stored, 449 at the source, and the job says so
    assert job.drift is not None and job.drift["contacts"].difference == 1
    assert job.records_synced == 450 == len(stored_ids(sync_env, tenant))


def test_an_insertion_mid_run_keeps_the_sync_exact(sync_env: SyncEnv, tenant: str) -> None:
    store = sync_env.source.store
    once_chunk_1_completed(sync_env, tenant, lambda: store.insert(tenant, "contacts", 50))
    job = full_sync(sync_env, tenant)
    assert job.status is JobStatus.COMPLETED
    assert stored_ids(sync_env, tenant) == source_ids(sync_env, tenant)  # 451, the new one too
    assert job.drift == {} and job.records_synced == 451


def test_an_update_mid_run_keeps_every_record(sync_env: SyncEnv, tenant: str) -> None:
    store = sync_env.source.store
    once_chunk_1_completed(sync_env, tenant, lambda: store.update(tenant, "contacts", [10, 300]))
    job = full_sync(sync_env, tenant)
    assert job.status is JobStatus.COMPLETED and job.drift == {}
    stored = sync_env.destination.read(tenant, "contacts")
    current = {str(r["id"]): r for r in store.records(tenant, "contacts")}
    assert stored.keys() == current.keys()
    # 300 had not been read yet: its new version is stored
    updated = next(r for n, r in enumerate(store.records(tenant, "contacts")) if n == 300)
    assert stored[str(updated["id"])] == updated


def test_many_deletions_during_a_run_with_concurrent_chunks(sync_env: SyncEnv) -> None:
    """Records deleted ahead of every chunk while four chunks run: the live ones all arrive."""
    tenant = unique("churn")
    sync_env.source.store.add_tenant(tenant, {"contacts": 3_000, "deals": 0})
    sync_env.set(max_concurrent_chunks=4, page_size=50)
    store, served, deletions = sync_env.source.store, [0], [0]
    before = source_ids(sync_env, tenant)

    def hook(hook_tenant: str, resource: str, offset: int, limit: int) -> None:
        served[0] += 1
        # pages only: a count (limit 1) is planning, or the drift check after the last chunk
        if hook_tenant == tenant and limit > 1 and served[0] % 3 == 0 and deletions[0] < 40:
            deletions[0] += 1
            store.delete(tenant, "contacts", [(served[0] * 37) % 2_900])

    store.before_page = hook
    job = full_sync(sync_env, tenant)
    deleted = before - source_ids(sync_env, tenant)
    assert job.status is JobStatus.COMPLETED and 10 <= len(deleted) <= 40  # the margin is 50
    assert before - deleted <= stored_ids(sync_env, tenant)
    # records deleted after they were read are stored: the job reports exactly those as drift
    read_then_deleted = deleted & stored_ids(sync_env, tenant)
    assert job.drift is not None
    assert job.drift["contacts"].difference == len(read_then_deleted) > 0


def test_repeated_ids_fail_the_chunk_with_a_count_and_an_example(
    sync_env: SyncEnv, tenant: str
) -> None:
    sync_env.set(chunk_retries=0)
    # chunk 2's second page: record 110 twice, 111 never
    sync_env.source.faults.duplicate_ids = [DuplicateRule(resource="contacts", offset=99, index=10)]
    job = full_sync(sync_env, tenant)
    assert job.status is JobStatus.INCOMPLETE
    failed = [c for c in sync_env.ledger.get_job(job.id).chunks or () if c.error]
    assert [c.index for c in failed] == [2]
    assert "1 duplicate record id in the chunk's window (e.g. '110')" in (failed[0].error or "")


def test_ids_that_collide_as_text_are_not_counted_twice(sync_env: SyncEnv) -> None:
    tenant = unique("mixed")
    sync_env.source.store.add_tenant(tenant, {"contacts": 200, "deals": 0}, id_style="mixed")
    sync_env.set(chunk_retries=0)
    job = full_sync(sync_env, tenant)
    assert job.status is not JobStatus.COMPLETED
    assert job.records_synced == sync_env.destination.count(tenant) == 0
    assert all(
        "collide as text" in (c.error or "") for c in sync_env.ledger.get_job(job.id).chunks or ()
    )


def test_a_lying_total_is_refused_at_planning(sync_env: SyncEnv, tenant: str) -> None:
    sync_env.source.faults.lie_total = 10**12
    started = time.monotonic()
    job = full_sync(sync_env, tenant)
    assert job.status is JobStatus.FAILED and time.monotonic() - started < 30
    assert "1,000,000,000,000 records" in (job.error or "")
    assert "JOBSVIEW_MAX_CHUNKS_PER_JOB=10,000" in (job.error or "")
    assert job.total_chunks == 0


def test_a_source_that_ignores_offset_fails_its_chunks(sync_env: SyncEnv, tenant: str) -> None:
    sync_env.set(chunk_retries=0)
    sync_env.source.faults.ignore_offset = True
    job = full_sync(sync_env, tenant)
    assert job.status is JobStatus.INCOMPLETE
    chunks = sync_env.ledger.get_job(job.id).chunks or ()
    assert chunks[0].status is ChunkStatus.COMPLETED  # page one is page one
    assert all("may ignore `offset`" in (c.error or "") for c in chunks[1:])
    assert sync_env.source.stats.total < 50  # bounded: no page read forever


def test_a_record_over_the_size_limit_fails_its_chunk(sync_env: SyncEnv, tenant: str) -> None:
    sync_env.set(chunk_retries=0, max_record_bytes=1_000_000)
    sync_env.source.faults.huge_record = HugeRecord(
        resource="contacts", offset=250, bytes=5_000_000
    )
    job = full_sync(sync_env, tenant)
    assert job.status is JobStatus.INCOMPLETE
    failed = [c for c in sync_env.ledger.get_job(job.id).chunks or () if c.error]
    assert [c.index for c in failed] == [3, 4]  # chunk 4 reads it too: its drift margin
    assert "over JOBSVIEW_MAX_RECORD_BYTES=1,000,000" in (failed[0].error or "")


def test_a_cancel_reaches_a_chunk_reading_a_dripping_page_within_seconds(
    sync_env: SyncEnv, tenant: str
) -> None:
    sync_env.source.faults.drip = Drip(chunk_bytes=16, interval_ms=200, resource="contacts")
    result: list[Job] = []
    thread = threading.Thread(target=lambda: result.append(full_sync(sync_env, tenant)))
    thread.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        jobs = sync_env.ledger.list_jobs(tenant=tenant)
        if jobs and jobs[0].counts[ChunkStatus.RUNNING]:
            break
        time.sleep(0.1)
    time.sleep(1)  # well into the dripping page
    asked = time.monotonic()
    request_cancel(sync_env.ledger, jobs[0].id)
    thread.join(60)
    took = time.monotonic() - asked
    assert result and result[0].status is JobStatus.CANCELLED
    assert took < 10, f"the cancel took {took:.1f}s"
    assert sync_env.destination.count(tenant) == 0  # the chunk wrote nothing
