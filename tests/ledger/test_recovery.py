"""Reconcile: settling jobs whose run is gone, as the orchestrator or the heartbeat says."""

from __future__ import annotations

from datetime import timedelta

from chunking import plan_chunks
from ledger import ChunkStatus, Job, JobStatus, Ledger, get_ledger
from ledger.recovery import RunState, RunStateOf, claim_dead, close_chunks, outcome, why_gone
from tests.factories import queued_job


def reconcile(
    ledger: Ledger, stale_after: timedelta, run_state: RunStateOf | None = None
) -> list[Job]:
    """What ``flows.settle.reconcile`` does with the ledger, without reporting."""
    settled = []
    for dead in claim_dead(ledger, stale_after, run_state):
        status, error = outcome(close_chunks(ledger, dead.id))
        assert ledger.settle_job(dead.id, status, error)
        settled.append(ledger.get_job(dead.id, with_chunks=False))
    return settled


def started_job(ledger: Ledger, tenant: str, *, run: str | None = None) -> str:
    """A running job: chunk 1 completed, chunk 2 running, chunk 3 pending."""
    job = queued_job(ledger, tenant)
    ledger.add_chunks(job.id, plan_chunks([("contacts", 300)], 100), {})
    ledger.mark_running(job.id, ran_as_full=False)
    ledger.chunk_started(job.id, 1, "h:1")
    ledger.chunk_completed(job.id, 1, 100)
    ledger.chunk_started(job.id, 2, "h:1")
    if run:
        ledger.update_job(job.id, flow_run_id=run)
    return job.id


def age(ledger: Ledger, job_id: str, minutes: int = 5) -> None:
    """As if the job's process had died ``minutes`` ago."""
    job = ledger.get_job(job_id, with_chunks=False)
    then = job.created_at - timedelta(minutes=minutes)
    ledger.update_job(job_id, created_at=then, heartbeat_at=then if job.heartbeat_at else None)


def test_reconcile_settles_interrupted_jobs(db_url: str) -> None:
    ledger = get_ledger(db_url)
    crashed_run = "00000000-0000-0000-0000-000000000003"
    stale, alive, crashed = (
        started_job(ledger, "a1"),
        started_job(ledger, "a2"),
        started_job(ledger, "a3", run=crashed_run),
    )
    age(ledger, stale)
    states = {crashed_run: RunState(JobStatus.FAILED, "Crashed")}
    settled = reconcile(ledger, timedelta(seconds=60), states.get)
    assert sorted(j.id for j in settled) == sorted([stale, crashed])
    for job_id in (stale, crashed):
        job = ledger.get_job(job_id)
        assert job.status is JobStatus.INCOMPLETE and "interrupted" in (job.error or "")
        assert [(c.status, c.error) for c in job.chunks or ()] == [
            (ChunkStatus.COMPLETED, None),
            (ChunkStatus.FAILED, "interrupted"),
            (ChunkStatus.CANCELLED, "not run: interrupted"),
        ]
    assert "flow run ended crashed" in (ledger.get_job(crashed).error or "")
    assert "no heartbeat" in (ledger.get_job(stale).error or "")
    assert ledger.get_job(alive).status is JobStatus.RUNNING


def test_a_queued_job_whose_run_waits_to_start_is_alive(db_url: str) -> None:
    """A hand-off to a deployment: the job is claimed, its flow run waits for a worker."""
    ledger = get_ledger(db_url)
    waiting_run, gone_run = (
        "00000000-0000-0000-0000-000000000001",
        "00000000-0000-0000-0000-000000000002",
    )
    jobs = {}
    for tenant, run in (("waits", waiting_run), ("gone", gone_run), ("unknown", None)):
        job = queued_job(ledger, tenant)
        ledger.update_job(job.id, flow_run_id=run)
        age(ledger, job.id)
        jobs[tenant] = job.id
    states = {
        waiting_run: RunState(JobStatus.QUEUED, "AwaitingConcurrencySlot"),
        gone_run: RunState(JobStatus.CANCELLED, "Cancelled"),
    }
    settled = {j.tenant: j for j in reconcile(ledger, timedelta(seconds=60), states.get)}
    assert set(settled) == {"gone", "unknown"}
    # planned nothing, so it did nothing: failed, never "completed"
    assert all(j.status is JobStatus.FAILED for j in settled.values())
    assert ledger.get_job(jobs["waits"]).status is JobStatus.QUEUED


def test_interrupted_after_every_chunk_completed_is_completed(db_url: str) -> None:
    ledger = get_ledger(db_url)
    job_id = started_job(ledger, "a1")
    for index in (2, 3):
        ledger.chunk_started(job_id, index, "h:1")
        ledger.chunk_completed(job_id, index, 100)
    age(ledger, job_id)
    (job,) = reconcile(ledger, timedelta(seconds=60))
    assert job.status is JobStatus.COMPLETED and job.error is None


def test_a_planning_job_that_beats_is_alive(db_url: str) -> None:
    """The heartbeat starts at the claim: a queued job still planning, claimed long ago."""
    ledger = get_ledger(db_url)
    job = queued_job(ledger, "slow")
    age(ledger, job.id)
    ledger.heartbeat(job.id)
    assert reconcile(ledger, timedelta(seconds=60)) == []
    assert ledger.get_job(job.id).status is JobStatus.QUEUED


def test_reconcile_spares_a_job_that_beat_after_it_was_read(db_url: str) -> None:
    """No race: a beat between reconcile's look and its settling keeps the job alive."""
    ledger = get_ledger(db_url)
    run = "00000000-0000-0000-0000-000000000004"
    job_id = started_job(ledger, "a1", run=run)
    age(ledger, job_id)

    def beats_meanwhile(_run: str) -> RunState:
        ledger.heartbeat(job_id)  # lands after reconcile read the stale heartbeat
        return RunState(JobStatus.RUNNING, "Running")

    assert reconcile(ledger, timedelta(seconds=60), beats_meanwhile) == []
    job = ledger.get_job(job_id)
    assert job.status is JobStatus.RUNNING and job.error is None
    assert [c.status for c in job.chunks or ()] == ["completed", "running", "pending"]


def test_a_run_that_just_started_is_alive_though_its_job_was_claimed_long_ago(
    db_url: str,
) -> None:
    """A job handed to a deployment waited for a worker; its run just went Running and has
    yet to adopt the job: alive, whatever the job's age (by both signs, never one alone)."""
    ledger = get_ledger(db_url)
    run = "00000000-0000-0000-0000-000000000005"
    job = queued_job(ledger, "handed")
    ledger.update_job(job.id, flow_run_id=run)
    age(ledger, job.id)
    just_now = ledger.get_job(job.id).created_at + timedelta(minutes=5)
    states = {run: RunState(JobStatus.RUNNING, "Running", since=just_now)}
    assert reconcile(ledger, timedelta(seconds=60), states.get) == []
    # Running for longer than the stale age without ever adopting it: gone.
    long_ago = just_now - timedelta(minutes=3)
    unadopted = ledger.get_job(job.id)
    assert why_gone(
        unadopted, RunState(JobStatus.RUNNING, "Running", long_ago), timedelta(seconds=60)
    )
    assert ledger.adopt(job.id, run)  # but this one adopts it in time


def test_a_job_settled_by_reconcile_refuses_its_late_run(db_url: str) -> None:
    """A run stopped (SIGSTOP) past the stale age, then woken: its chunks stop, and what it
    does no longer changes the settled job."""
    ledger = get_ledger(db_url)
    job_id = started_job(ledger, "late")
    age(ledger, job_id)
    (settled,) = reconcile(ledger, timedelta(seconds=60))
    assert settled.status is JobStatus.INCOMPLETE
    assert ledger.stop_reason(job_id) == "the job was settled as incomplete"
    assert not ledger.chunk_completed(job_id, 2, 100)
    assert not ledger.chunk_started(job_id, 3, "h:1")
    assert not ledger.adopt(job_id, "00000000-0000-0000-0000-000000000006")
    job = ledger.get_job(job_id)
    assert [c.status for c in job.chunks or ()] == ["completed", "failed", "cancelled"]
    assert job.records_synced == 100


def test_an_interrupted_run_ends_by_its_chunks_not_as_cancelled(db_url: str) -> None:
    ledger = get_ledger(db_url)
    job_id = started_job(ledger, "term")
    assert ledger.interrupt(job_id, "interrupted: SIGTERM")
    assert ledger.stop_reason(job_id) == "interrupted: SIGTERM"
    job = close_chunks(ledger, job_id)
    assert outcome(job) == (JobStatus.INCOMPLETE, "interrupted: SIGTERM")
    assert not job.cancel_requested
    # before it planned a chunk, an interruption fails the job
    fresh = queued_job(ledger, "early")
    ledger.interrupt(fresh.id, "interrupted: SIGTERM")
    assert outcome(close_chunks(ledger, fresh.id)) == (JobStatus.FAILED, "interrupted: SIGTERM")
