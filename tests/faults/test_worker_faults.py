"""Faults of deployment runs on a process worker: the flow-run process killed, stopped or
orphaned, a Dask worker killed, a cancel from the Prefect UI. Each test checks the job's final
status, its records against the rows stored, exactly one outcome event, and the follow-up the
auto-resume should (or should not) start."""

from __future__ import annotations

import os
import signal
import time

from prefect import get_client
from prefect.client.schemas.objects import StateType
from prefect.states import Cancelling

from demo.faults import MalformedRule
from ledger import ChunkStatus, Job, JobStatus
from tests.faults.conftest import (
    assert_chain_exact,
    chain_end,
    flow_run,
    flow_run_ended,
    one_outcome_event,
    report,
    resumes,
    running_job,
    settled,
    start,
    task_runs,
)
from tests.platform import Platform


def flow_process(job: Job) -> int:
    """The pid of the process that runs the job's chunks (its flow run, on threads)."""
    workers = {c.worker for c in job.chunks or () if c.worker}
    assert len(workers) == 1, workers
    return int(next(iter(workers)).rsplit(":", 1)[1])


def test_a_crashed_deployment_run_is_settled_and_resumed_with_no_web_server(
    prod: Platform,
) -> None:
    """kill -9 of the flow-run process: Prefect sees it Crashed, the maintenance deployment
    settles the job incomplete, its event starts the auto-resume, and the chain ends exact."""
    prod.source.faults.slow_ms = 30
    run = start("crashco-full", parameters={"sync_size": "small"})  # 30 chunks
    job = running_job(prod, run.id)
    os.kill(flow_process(job), signal.SIGKILL)
    killed = time.monotonic()
    first = settled(prod, job.id, timeout=60)
    took = time.monotonic() - killed
    assert first.status is JobStatus.INCOMPLETE
    assert "crashed" in (first.error or "") or "no heartbeat" in (first.error or "")
    assert flow_run(run.id).state_type is StateType.CRASHED
    event = one_outcome_event(prod, first)
    assert event["resource"]["jobsview.deployment"] == "crashco-full"
    prod.source.faults.slow_ms = 0
    last = chain_end(prod, first)
    assert last.parent_id == first.id and last.status is JobStatus.COMPLETED
    one_outcome_event(prod, last)
    assert_chain_exact(prod, [first, last])
    report("1. flow-run process killed (kill -9)", first, 1, "resumed, chain exact", took)


def test_sigterm_to_a_worker_run_that_nobody_cancelled_interrupts_it(prod: Platform) -> None:
    """SIGTERM straight to the flow-run process (a machine shutting down), with no cancel
    asked in Prefect: the run stops its chunks and settles the job incomplete, not cancelled,
    so the auto-resume takes it; its flow run ends Failed, named Incomplete."""
    prod.source.faults.slow_ms = 30
    run = start("termed-full", parameters={"sync_size": "small"})
    job = running_job(prod, run.id)
    os.kill(flow_process(job), signal.SIGTERM)
    sent = time.monotonic()
    first = settled(prod, job.id, timeout=60)
    took = time.monotonic() - sent
    assert first.status is JobStatus.INCOMPLETE and not first.cancel_requested
    assert first.error == "interrupted: SIGTERM"
    ended = flow_run_ended(prod, run.id)
    assert (ended.state_type, ended.state_name) == (StateType.FAILED, "Incomplete")
    one_outcome_event(prod, first)
    prod.source.faults.slow_ms = 0
    last = chain_end(prod, first)
    one_outcome_event(prod, last)
    assert_chain_exact(prod, [first, last])
    report("SIGTERM to a worker's run, no cancel asked", first, 1, "resumed, chain exact", took)


def test_a_dead_worker_leaves_its_run_to_finish_truthfully(prod: Platform) -> None:
    """The worker dies (SIGKILL) while its run syncs, with a chunk failing once (a Prefect
    retry) and requests retried on 5xx: the orphaned run's log pipe breaks, but the run goes
    on, retries, and completes, with its event. Never cancelled: nobody asked."""
    prod.source.faults.slow_ms = 30
    prod.source.faults.rate_5xx = 0.05
    # chunk 16's first page (a margin of one 50-record page before its offset, 1,500)
    prod.source.faults.malformed = [MalformedRule(resource="contacts", offset=1_450, times=1)]
    run = start("orphan-full", parameters={"sync_size": "small"})
    job = running_job(prod, run.id)
    prod.kill_worker()
    killed = time.monotonic()
    done = settled(prod, job.id)
    took = time.monotonic() - killed
    assert done.status is JobStatus.COMPLETED and not done.cancel_requested
    assert [c.attempts for c in done.chunks or () if c.index == 16] == [2]  # retried orphaned
    assert flow_run_ended(prod, run.id).state_type is StateType.COMPLETED
    one_outcome_event(prod, done)
    assert resumes(prod, done, wait=2) == []
    assert_chain_exact(prod, [done])
    report("2. worker killed mid-run, chunks retrying", done, 1, "none (completed)", took)


def test_a_stopped_run_past_the_stale_age_is_settled_then_woken_harmlessly(
    prod: Platform,
) -> None:
    """SIGSTOP of the flow-run process for longer than the stale age: no heartbeat, and no
    state change, so the maintenance deployment settles the job incomplete. Woken by SIGCONT,
    the run finds its job settled and changes nothing; the resume completes the chain."""
    prod.source.faults.slow_ms = 30
    run = start("sleeper-full", parameters={"sync_size": "small"})
    job = running_job(prod, run.id)
    pid = flow_process(job)
    os.kill(pid, signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        # stopped mid-transaction, its row locks hold reconcile up until PostgreSQL ends it
        first = settled(prod, job.id, timeout=90)
        took = time.monotonic() - stopped
    finally:
        os.kill(pid, signal.SIGCONT)
    assert first.status is JobStatus.INCOMPLETE and "no heartbeat" in (first.error or "")
    one_outcome_event(prod, first)
    prod.source.faults.slow_ms = 0
    last = chain_end(prod, first)
    one_outcome_event(prod, last)
    # the woken run changed nothing: the first job's chunks are as reconcile left them
    assert prod.ledger.get_job(first.id).counts == first.counts
    assert_chain_exact(prod, [first, last])
    report("SIGSTOP past the stale age, then SIGCONT", first, 1, "resumed, chain exact", took)


def test_a_cancel_from_the_prefect_ui_shows_every_unstarted_chunk_cancelled(
    prod: Platform,
) -> None:
    prod.source.faults.slow_ms = 60
    run = start("stopper-full", parameters={"sync_size": "small"})  # 20 chunks
    job = running_job(prod, run.id)
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run.id, Cancelling())
    asked = time.monotonic()
    done = settled(prod, job.id, timeout=60)
    took = time.monotonic() - asked
    assert done.status is JobStatus.CANCELLED and done.cancel_requested
    assert flow_run_ended(prod, run.id).state_type is StateType.CANCELLED
    # every chunk has a task run in the chunk's state: the unstarted ones grey, not missing
    chunks = {f"chunk-{c.index}-of-{done.total_chunks}": c for c in done.chunks or ()}

    def all_task_runs() -> bool:
        names = {t.name for t in task_runs(run.id) if t.state_type in FINAL_TASK}
        return set(chunks) <= names

    prod.wait_for("a task run per chunk", all_task_runs, 30)
    states = {t.name: t.state_type for t in task_runs(run.id) if t.name in chunks}
    for name, chunk in chunks.items():
        expected = StateType.COMPLETED if chunk.status is ChunkStatus.COMPLETED else None
        assert states[name] is (expected or StateType.CANCELLED), (name, chunk.status)
    assert any(c.status is ChunkStatus.CANCELLED for c in chunks.values())
    one_outcome_event(prod, done)
    assert resumes(prod, done, wait=3) == []  # a cancelled job is never resumed
    stored = sum(c.records for c in chunks.values() if c.status is ChunkStatus.COMPLETED)
    assert done.records_synced == stored == prod.destination.count("stopper")
    report("9. cancel of a worker run (Prefect UI)", done, 1, "none (cancelled)", took)


FINAL_TASK = {StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED}


def test_a_dask_worker_killed_mid_chunk_loses_nothing(prod: Platform) -> None:
    """Chunks on a local Dask cluster; one Dask worker process is killed while it syncs a
    chunk. Dask runs the chunk again elsewhere (or it fails and the job is resumed): either
    way the chain ends exact, with one event per job."""
    prod.source.faults.slow_ms = 60
    run = start(
        "shaky-full",
        parameters={"sync_size": "small"},
        job_variables={"env": {"JOBSVIEW_TASK_RUNNER": "dask"}},
    )
    job = running_job(prod, run.id, completed=1)

    def a_running_chunk() -> str | None:
        chunks = prod.ledger.get_job(job.id).chunks or ()
        return next((c.worker for c in chunks if c.status is ChunkStatus.RUNNING), None)

    worker = prod.wait_for("a chunk running on a Dask worker", a_running_chunk, 30)
    os.kill(int(str(worker).rsplit(":", 1)[1]), signal.SIGKILL)
    killed = time.monotonic()
    first = settled(prod, job.id, timeout=120)
    took = time.monotonic() - killed
    one_outcome_event(prod, first)
    prod.source.faults.slow_ms = 0
    chain = [first]
    if first.status is not JobStatus.COMPLETED:
        assert first.status is JobStatus.INCOMPLETE
        last = chain_end(prod, first)
        one_outcome_event(prod, last)
        chain.append(last)
    assert_chain_exact(prod, chain)
    follow = "none (completed)" if len(chain) == 1 else "resumed, chain exact"
    report("Dask worker killed mid-chunk", first, 1, follow, took)
