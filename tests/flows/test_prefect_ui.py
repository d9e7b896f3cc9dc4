"""The Prefect UI tells the truth: every flow run and task run ends in the state that matches its
job and chunks, read back through the API of the session's real Prefect server."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from prefect import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import StateType, TaskRun
from prefect.states import Cancelling

from core import JobConflictError, JobNotFoundError
from demo.faults import MalformedRule
from flows import adapter, new_job_id
from ledger import ChunkStatus, Job, JobStatus
from tests.factories import queued_job
from tests.support import SyncEnv
from tests.views.test_commands import jobsview
from views.web import create_app

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
FINAL = {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:6]}"


def outcome(state: Any) -> Job:
    result = state.result(raise_on_failure=False)
    return result.job if hasattr(result, "job") else result


def chunk_runs(job: Job, timeout: float = 15) -> dict[int, TaskRun]:
    """The job's chunk task runs by chunk number, once every one has reached a final state.

    Task run states reach the server as events, a moment after the run ends: poll for them.
    """
    assert job.flow_run_id
    flow_runs = FlowRunFilter(id=FlowRunFilterId(any_=[UUID(job.flow_run_id)]))
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(flow_run_filter=flow_runs, limit=200)
            chunks = {int(r.name.split("-")[1]): r for r in runs if r.name.startswith("chunk-")}
            final = all(r.state_type in FINAL for r in chunks.values())
            if (final and len(chunks) == job.total_chunks) or time.monotonic() > deadline:
                return chunks
            time.sleep(0.2)


def assert_prefect_tells_the_truth(job: Job) -> None:
    """Each chunk's task run ends in its chunk's status; the flow run in the job's state."""
    runs = chunk_runs(job)
    assert sorted(runs) == [c.index for c in job.chunks or ()], "a chunk has no task run"
    for chunk in job.chunks or ():
        run = runs[chunk.index]
        assert run.state_type is not None
        assert adapter.chunk_status(run.state_type, run.state_name) is chunk.status, (
            f"chunk {chunk.index} is {chunk.status.value} but its task run is {run.state_name}"
        )
    with get_client(sync_client=True) as client:
        flow_state = client.read_flow_run(UUID(str(job.flow_run_id))).state
    expected = adapter.job_state(job)
    assert flow_state is not None
    assert (flow_state.type, flow_state.name) == (expected.type, expected.name)


@SQLITE_ONLY
def test_completed_job(sync_env: SyncEnv) -> None:
    job = outcome(
        sync_env.sync(tenant="globex", sync_type="full", sync_size="small", return_state=True)
    )
    assert job.status is JobStatus.COMPLETED
    assert_prefect_tells_the_truth(job)


@SQLITE_ONLY
def test_incomplete_job_is_never_green(sync_env: SyncEnv) -> None:
    sync_env.set(chunk_retries=0)
    sync_env.source.faults.malformed = [MalformedRule(resource="contacts", offset=400)]  # chunk 2
    job = outcome(
        sync_env.sync(tenant="acme", sync_type="full", sync_size="medium", return_state=True)
    )
    assert job.status is JobStatus.INCOMPLETE and job.counts[ChunkStatus.FAILED] == 1
    assert_prefect_tells_the_truth(job)


@SQLITE_ONLY
def test_failed_job_stops_the_rest_as_cancelled(sync_env: SyncEnv) -> None:
    """An authentication failure mid-run: one chunk fails, no other starts (cancelled)."""
    sync_env.set(max_concurrent_chunks=1, source_token="t0k")
    sync_env.source.faults.token = "t0k"
    original = sync_env.source.store.page

    def revoke_after_some(*args: object, **kwargs: object) -> Any:
        if sync_env.source.stats.total > 12:
            sync_env.source.faults.token = "rotated"
        return original(*args, **kwargs)

    sync_env.source.store.page = revoke_after_some  # type: ignore[method-assign]
    job = outcome(
        sync_env.sync(tenant="acme", sync_type="full", sync_size="small", return_state=True)
    )
    assert job.status is JobStatus.FAILED and job.counts[ChunkStatus.CANCELLED] > 0
    assert_prefect_tells_the_truth(job)


def cancel_from(how: str, env: SyncEnv, job_id: str) -> None:
    if how == "cli":
        done = subprocess.run(
            [*jobsview(), "cancel", job_id[:8]],
            env=os.environ | env.environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    elif how == "web":
        app = create_app(env.settings, reconcile_in_background=False)
        with TestClient(app, base_url="http://127.0.0.1") as client:
            assert client.post(f"/api/jobs/{job_id}/cancel", json={}).status_code == 200
    else:
        flow_run_id = env.ledger.get_job(job_id).flow_run_id
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(UUID(str(flow_run_id)), Cancelling(), force=True)


@SQLITE_ONLY
@pytest.mark.parametrize("how", ["cli", "web", "prefect"])
def test_cancelled_job_shows_its_unstarted_chunks_cancelled(sync_env: SyncEnv, how: str) -> None:
    sync_env.source.faults.slow_ms = 30
    sync_env.set(page_size=50, max_concurrent_chunks=2)
    job_id = new_job_id()
    box: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: box.update(
            state=sync_env.sync(
                tenant="acme", sync_type="full", sync_size="small", job_id=job_id, return_state=True
            )
        )
    )
    thread.start()
    deadline = time.monotonic() + 30
    while completed(sync_env, job_id) < 3:
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.05)
    cancel_from(how, sync_env, job_id)
    thread.join(timeout=30)
    job = outcome(box["state"])
    assert job.status is JobStatus.CANCELLED and job.counts[ChunkStatus.CANCELLED] > 0
    assert_prefect_tells_the_truth(job)


def completed(env: SyncEnv, job_id: str) -> int:
    try:
        return env.ledger.get_job(job_id, with_chunks=False).counts[ChunkStatus.COMPLETED]
    except JobNotFoundError:  # not claimed yet
        return 0


@SQLITE_ONLY
def test_a_refused_run_leaves_nothing_in_prefect(sync_env: SyncEnv) -> None:
    tenant = unique("busy")
    sync_env.source.store.add_tenant(tenant, {"contacts": 10, "deals": 0})
    blocking = queued_job(sync_env.ledger, tenant)
    sync_env.ledger.mark_running(blocking.id, ran_as_full=False)
    with pytest.raises(JobConflictError) as refused:
        sync_env.sync(tenant=tenant, sync_type="full")
    assert refused.value.blocking_job_id == blocking.id
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"tenant:{tenant}"]))
        )
    assert runs == []
    assert [j.id for j in sync_env.ledger.list_jobs(tenant=tenant)] == [blocking.id]
