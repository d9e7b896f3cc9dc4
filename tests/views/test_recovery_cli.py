"""Recovery across processes, as operators do it: cancel, kill -9, reconcile, resume, races."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from ledger import ChunkStatus, JobStatus
from tests.support import SyncEnv
from tests.views.test_commands import jobsview


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*jobsview(), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def call(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*jobsview(), *args], env=env, capture_output=True, text=True, timeout=120
    )


def wait_for_chunks(sync_env: SyncEnv, done: int, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job in sync_env.ledger.list_jobs():
            if job.counts[ChunkStatus.COMPLETED] >= done:
                return job.id
        time.sleep(0.1)
    pytest.fail("the job did not make progress")


def start_slow_run(
    sync_env: SyncEnv, cli_env: dict[str, str], *extra: str
) -> tuple[subprocess.Popen[str], str]:
    """A ``jobsview run`` of 37 slow chunks in another process, once 3 have completed."""
    sync_env.source.faults.slow_ms = 100
    env = cli_env | {"JOBSVIEW_PAGE_SIZE": "20"}
    proc = start(env, "run", "--tenant", "acme", "--type", "full", "--sync-size", "small", *extra)
    return proc, wait_for_chunks(sync_env, 3)


def test_cancel_from_another_process(sync_env: SyncEnv, cli_env: dict[str, str]) -> None:
    proc, job_id = start_slow_run(sync_env, cli_env, "--json")
    asked = time.monotonic()
    cancelled = call(cli_env, "cancel", job_id[:8])
    assert cancelled.returncode == 0 and "Cancel requested" in cancelled.stdout
    out, err = proc.communicate(timeout=60)
    latency = time.monotonic() - asked
    assert proc.returncode == 4, err[-2000:]
    job = json.loads(out)
    assert job["status"] == "cancelled" and latency < 10
    assert {c["status"] for c in job["chunks"]} <= {"completed", "cancelled"}
    assert sync_env.destination.count("acme") == job["records_synced"]


def test_kill_9_then_reconcile_then_resume_is_exact(
    sync_env: SyncEnv, cli_env: dict[str, str]
) -> None:
    sync_env.source.faults.slow_ms = 100
    env = cli_env | {"JOBSVIEW_PAGE_SIZE": "20", "JOBSVIEW_STALE_AFTER_SECONDS": "3"}
    proc = start(env, "run", "--tenant", "acme", "--type", "full", "--sync-size", "small")
    job_id = wait_for_chunks(sync_env, 4)
    proc.send_signal(signal.SIGKILL)
    sync_env.source.faults.slow_ms = 0
    proc.wait(timeout=10)
    assert sync_env.ledger.get_job(job_id).status is JobStatus.RUNNING
    time.sleep(3.5)  # the heartbeat goes stale
    reconciled = call(env, "reconcile", "--json")
    assert reconciled.returncode == 0
    (settled,) = json.loads(reconciled.stdout)
    assert settled["id"] == job_id and settled["status"] == "incomplete"
    job = sync_env.ledger.get_job(job_id)
    assert all(c.error == "interrupted" for c in job.chunks if c.status is ChunkStatus.FAILED)

    resumed = call(env, "resume", job_id, "--json")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    child = json.loads(resumed.stdout)
    assert child["parent_id"] == job_id and child["status"] == "completed"
    sync_env.assert_destination_equals_source("acme")
    assert sync_env.destination.count("acme") == 3_700  # no duplicates

    refused = call(env, "resume", child["id"])
    assert refused.returncode == 1 and "nothing to resume" in refused.stderr


def test_two_simultaneous_runs_make_exactly_one_job(
    sync_env: SyncEnv, cli_env: dict[str, str]
) -> None:
    sync_env.source.faults.slow_ms = 150  # long enough that the two runs overlap
    env = cli_env | {"JOBSVIEW_PAGE_SIZE": "20"}
    procs = [start(env, "run", "--tenant", "acme", "--type", "full", "--json") for _ in range(2)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], [err[-1500:] for _, _, err in results]
    (job,) = sync_env.ledger.list_jobs()
    refused = next(out for code, out, _ in results if code == 1)
    assert json.loads(refused)["blocking_job_id"] == job.id


def test_sigterm_as_a_prefect_worker_sends_it_cancels_cleanly(
    sync_env: SyncEnv, cli_env: dict[str, str]
) -> None:
    """Prefect stops runs it launched with SIGTERM: the job stops its chunks and ends cancelled."""
    proc, job_id = start_slow_run(sync_env, cli_env)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert time.monotonic() - sent < 10
    job = sync_env.ledger.get_job(job_id)
    assert job.status is JobStatus.CANCELLED
    assert {c.status for c in job.chunks or ()} <= {ChunkStatus.COMPLETED, ChunkStatus.CANCELLED}
    assert sync_env.destination.count("acme") == job.records_synced
