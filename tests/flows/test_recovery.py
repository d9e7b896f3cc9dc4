"""Recovery in process: faults, resume, cancel (ledger and Prefect), reconcile, DB restarts."""

from __future__ import annotations

import time
from typing import Any

import pytest
from prefect import get_client
from prefect.client.schemas.objects import StateType
from prefect.states import Cancelling

from core import JobStateError
from demo.faults import MalformedRule
from flows import new_job_id
from ledger import ChunkStatus, Job, JobStatus
from ledger.recovery import request_cancel
from tests.databases import private_postgres
from tests.support import SyncEnv


def outcome(state: Any) -> Job:
    result = state.result(raise_on_failure=False)
    return result.job if hasattr(result, "job") else result


def assert_ledger_matches_destination(env: SyncEnv, job: Job, tenant: str = "acme") -> None:
    """Nothing claimed that is not stored: completed chunks' records are all in the destination."""
    stored = env.destination.count(tenant)
    assert stored >= job.records_synced
    if job.status is JobStatus.COMPLETED:
        env.assert_destination_equals_source(tenant)


def test_transient_faults_still_complete_exactly(sync_env: SyncEnv) -> None:
    faults = sync_env.source.faults
    faults.rate_429, faults.retry_after = 0.15, 0.05
    faults.rate_5xx, faults.rate_drop, faults.slow_ms = 0.05, 0.03, 2
    sync_env.set(page_size=50)
    job = sync_env.sync(tenant="acme", sync_type="full", sync_size="medium")
    assert job.status is JobStatus.COMPLETED
    sync_env.assert_destination_equals_source("acme")
    assert sync_env.source.stats.count(429) > 0 and sync_env.source.stats.count("dropped") > 0


def test_persistent_malformed_page_then_resume_makes_it_exact(sync_env: SyncEnv) -> None:
    sync_env.set(chunk_retries=1)
    sync_env.source.faults.malformed = [
        MalformedRule(resource="deals", offset=400)
    ]  # chunk 2 reads from 400: a margin early
    first = outcome(sync_env.sync(tenant="acme", sync_type="full", return_state=True))
    assert first.status is JobStatus.INCOMPLETE
    assert [(c.index, c.status) for c in first.chunks if c.status is not ChunkStatus.COMPLETED] == [
        (7, ChunkStatus.FAILED)
    ]
    assert not sync_env.ledger.watermarks("acme")

    # still broken: the resume fails the same chunk and can itself be resumed
    second = outcome(sync_env.resume(first.id, return_state=True))
    assert second.parent_id == first.id and second.status is JobStatus.FAILED
    assert [(c.index, c.offset, c.limit) for c in second.chunks] == [(7, 500, 500)]
    assert sync_env.ledger.get_job(first.id).resumed_by == (second.id,)
    with pytest.raises(JobStateError, match="already resumed"):
        sync_env.resume(first.id)

    sync_env.source.faults.malformed = []
    third = sync_env.resume(second.id)
    # chunk 7's records, but for 900-999 that chunk 8 stored (its drift margin) in the first job
    assert third.status is JobStatus.COMPLETED and third.records_synced == 400
    chain = (first, second, third)
    assert sum(j.records_synced for j in chain) == sync_env.destination.count("acme")
    sync_env.assert_destination_equals_source("acme")
    # the chain completed: the watermark is when its first job was planned
    assert set(sync_env.ledger.watermarks("acme").values()) == {first.created_at}
    with pytest.raises(JobStateError, match="nothing to resume"):
        sync_env.resume(third.id)


def test_open_ended_window_stays_open_ended_on_resume(sync_env: SyncEnv) -> None:
    sync_env.set(chunk_retries=0)
    sync_env.source.faults.malformed = [MalformedRule(resource="contacts", offset=1900, times=1)]
    first = outcome(sync_env.sync(tenant="acme", sync_type="full", return_state=True))
    assert first.status is JobStatus.INCOMPLETE
    sync_env.source.store.change("acme", "contacts", insert=7)  # appended after planning
    resumed = sync_env.resume(first.id)
    (chunk,) = resumed.chunks
    assert (chunk.index, chunk.offset, chunk.limit, chunk.records) == (5, 2000, None, 507)
    sync_env.assert_destination_equals_source("acme")


def test_prefect_rate_limit_per_tenant_is_shared(sync_env: SyncEnv) -> None:
    """With JOBSVIEW_SOURCE_RATE_LIMIT, every request takes a slot of a Prefect rate limit."""
    sync_env.set(source_rate_limit=10, page_size=10)
    started = time.monotonic()
    job = sync_env.sync(tenant="globex", sync_type="full")
    elapsed = time.monotonic() - started
    assert job.status is JobStatus.COMPLETED
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name("jobsview-source-globex")
    assert (limit.limit, limit.slot_decay_per_second) == (10, 10.0)
    requests = sync_env.source.stats.total
    assert requests > 30 and elapsed >= (requests - 10) / 10 * 0.9


def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def completed_chunks(env: SyncEnv, job_id: str) -> int:
    try:
        return env.ledger.get_job(job_id, with_chunks=False).counts[ChunkStatus.COMPLETED]
    except Exception:
        return 0


@pytest.mark.parametrize("how", ["ledger", "prefect"])
def test_cancel_stops_within_seconds_and_keeps_completed_work(sync_env: SyncEnv, how: str) -> None:
    sync_env.source.faults.slow_ms = 30
    sync_env.set(page_size=50, max_concurrent_chunks=2)
    job_id = new_job_id()
    thread, _ = sync_env.sync_in_thread(
        tenant="acme", sync_type="full", sync_size="small", job_id=job_id
    )
    wait_for(lambda: completed_chunks(sync_env, job_id) >= 3)
    asked = time.monotonic()
    if how == "ledger":
        request_cancel(sync_env.ledger, job_id[:8])
    else:
        flow_run_id = sync_env.ledger.get_job(job_id).flow_run_id
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(flow_run_id, Cancelling(), force=True)  # type: ignore[arg-type]
    thread.join(timeout=30)
    latency = time.monotonic() - asked
    assert not thread.is_alive() and latency < 10
    job = sync_env.ledger.get_job(job_id)
    assert job.status is JobStatus.CANCELLED
    statuses = {c.status for c in job.chunks}
    assert statuses <= {ChunkStatus.COMPLETED, ChunkStatus.CANCELLED}
    assert job.counts[ChunkStatus.CANCELLED] > 0
    # chunk writes are atomic: stored records are exactly what completed chunks report
    assert sync_env.destination.count("acme") == job.records_synced
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(job.flow_run_id).state  # type: ignore[arg-type]
    assert state is not None and state.type is StateType.CANCELLED
    with pytest.raises(JobStateError, match="already ended"):
        request_cancel(sync_env.ledger, job_id)


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # replaced by a private cluster
def test_postgresql_restart_mid_run_loses_nothing(sync_env: SyncEnv) -> None:
    with private_postgres() as cluster:
        env = SyncEnv(cluster.url, sync_env.source, dict(sync_env.values))
        env.set(database_url=cluster.url, page_size=50, max_concurrent_chunks=2)
        env.set(chunk_retry_delay_seconds=1)
        env.source.faults.slow_ms = 20
        job_id = new_job_id()
        thread, box = env.sync_in_thread(
            tenant="acme", sync_type="full", sync_size="small", job_id=job_id
        )
        wait_for(lambda: completed_chunks(env, job_id) >= 3)
        cluster.restart()
        thread.join(timeout=120)
        job = outcome(box["state"])
        assert job.status in (JobStatus.COMPLETED, JobStatus.INCOMPLETE)
        assert_ledger_matches_destination(env, job)
        if job.status is JobStatus.INCOMPLETE:
            resumed = env.resume(job.id)
            assert resumed.status is JobStatus.COMPLETED
        env.assert_destination_equals_source("acme")
