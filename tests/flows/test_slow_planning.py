"""A slow planning phase is alive: the heartbeat starts at the claim, not when chunks start.

And a run whose job was settled behind its back while it planned ends cleanly, by the job's
status, instead of dying on the next run's claim with a raw IntegrityError.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from prefect import Flow

from connectors.source import RestSource
from core import JobConflictError
from flows import new_job_id, runtime
from flows.claim import claim
from ledger import ChunkStatus, Job, JobStatus
from tests.factories import queued_job
from tests.slow_source import SlowCount
from tests.support import SyncEnv

STALE_AFTER = 2


@pytest.fixture
def slow(sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlowCount]:
    """The demo source, with each count held until the test lets it go."""
    sync_env.set(stale_after_seconds=STALE_AFTER)
    with RestSource.from_settings(sync_env.settings) as demo:
        source = SlowCount(demo)
        monkeypatch.setattr(runtime, "source", lambda _settings: source)
        yield source
        source.go.set()  # never leave a run waiting


def watchers(job_id: str) -> int:
    return sum(t.name == f"watch-{job_id[:8]}" for t in threading.enumerate())


def outcome(state: Any) -> Job:
    result = state.result(raise_on_failure=False)
    return result.job if hasattr(result, "job") else result


def test_planning_slower_than_stale_after_is_not_reconciled(
    sync_env: SyncEnv, slow: SlowCount
) -> None:
    job_id = new_job_id()
    thread, box = sync_env.sync_in_thread(
        tenant="acme", sync_type="full", sync_size="xlarge", job_id=job_id
    )
    assert slow.counting.wait(30)
    time.sleep(STALE_AFTER + 1.5)  # still counting, longer than a dead run may stay silent

    # A second run now: it finds the first alive, and is refused instead of running beside it.
    with pytest.raises(JobConflictError) as refused:
        claim(sync_env.ledger, sync_env.settings, tenant="acme", sync_type="full")
    assert refused.value.blocking_job_id == job_id
    assert watchers(job_id) == 1  # one heartbeat thread per job, claim and flow run alike

    slow.go.set()
    thread.join(120)
    job = outcome(box["state"])
    assert job.status is JobStatus.COMPLETED and job.error is None
    sync_env.assert_destination_equals_source("acme")
    assert watchers(job_id) == 0


def test_a_job_reconciled_while_it_planned_ends_cleanly(
    sync_env: SyncEnv, slow: SlowCount, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = sync_env.ledger
    job_id = new_job_id()
    with caplog.at_level(logging.INFO):
        thread, box = sync_env.sync_in_thread(tenant="acme", sync_type="full", job_id=job_id)
        assert slow.counting.wait(30)
        # As a second run's claim does with a job it thinks dead: settle it, claim anew.
        why = "interrupted: no heartbeat since 2026-01-01 12:00:00 UTC"
        ledger.finish_job(job_id, JobStatus.FAILED, error=why)
        second = queued_job(ledger, resources=("contacts", "deals"))
        slow.go.set()
        thread.join(60)

    state = box["state"]
    assert state.is_failed() and why in (state.message or "")
    job = ledger.get_job(job_id)
    assert (job.status, job.error, job.chunks, job.started_at) == (JobStatus.FAILED, why, (), None)
    assert ledger.get_job(second.id).status is JobStatus.QUEUED  # the second run's, untouched
    said = [r.getMessage() for r in caplog.records if "while planning" in r.getMessage()]
    assert said == [f"job {job_id} was settled as failed while planning ({why}); not planning it"]
    assert "IntegrityError" not in caplog.text
    assert sync_env.destination.count("acme") == 0
    ledger.finish_job(second.id, JobStatus.FAILED)


def test_the_heartbeat_starts_at_the_claim(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It covers the gap before the flow run starts (creating it talks to the Prefect API)."""
    beat_before_the_flow_run: dict[str, Any] = {}

    def flow_run_starts_slowly(self: Flow[..., Any], *args: Any, **kwargs: Any) -> None:
        job_id = kwargs["job_id"]
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            beat = sync_env.ledger.get_job(job_id, with_chunks=False).heartbeat_at
            if beat is not None:
                break
            time.sleep(0.05)
        beat_before_the_flow_run[job_id] = beat
        return None  # Prefect never ran it

    monkeypatch.setattr(Flow, "__call__", flow_run_starts_slowly)
    sync_env.sync(tenant="acme", sync_type="full")
    ((job_id, beat),) = beat_before_the_flow_run.items()
    assert beat is not None
    job = sync_env.ledger.get_job(job_id)
    assert job.status is JobStatus.FAILED and "did not start" in (job.error or "")
    assert job.counts[ChunkStatus.PENDING] == 0 and watchers(job_id) == 0
