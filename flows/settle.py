"""The one path that settles a job, whatever ended its run, and reconcile, which takes it for
runs that died.

``settle`` closes the job's open chunks, writes its status from their outcomes with the real
cause (``ledger.recovery``), records a completed full sync's drift and moves the watermark,
then reports the outcome: the artifacts and the ``jobsview.job.{status}`` event, once per job.
Its own run calls it when its chunks stop: at their end, on an error, on Ctrl-C or SIGTERM.
``reconcile`` calls it for a run that died (crashed, killed, or silent past the stale age),
from ``jobsview reconcile``, ``jobsview serve``, each new claim, and the maintenance flow.

Logging comes last and cannot stop it: a log line to a closed pipe is not the job's failure.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from prefect.settings import PREFECT_API_URL

from core.db import utcnow
from core.errors import JobsViewError
from core.settings import Settings
from flows import runtime
from flows.artifacts import publish_job
from flows.events import emit_outcome, outcome_event
from flows.prefect_api import flow_run_state, run_origin
from ledger import recovery
from ledger.models import Drift, Job, JobStatus
from ledger.render import drift_text, progress_text
from ledger.store import Ledger
from tasks.verify import distinct_records, drift

if TYPE_CHECKING:
    from flows.artifacts import ChunkProgress

# An outcome not reported this long after its job settled is sent again by reconcile's sweep
# (its reporter died, or Prefect was away); older ones are left alone.
REPORT_GRACE = timedelta(seconds=60)
REPORT_HORIZON = timedelta(days=1)


def settle(settings: Settings, job_id: str, progress: ChunkProgress | None = None) -> Job:
    """Settle a job whose run has stopped its chunks, unless someone did already, and
    report its outcome; return the job.

    Whoever settles the job reports it, once: a run that finds its job settled by reconcile
    (it was taken for dead) reports nothing. A reporter that dies first leaves the outcome to
    reconcile's sweep.
    """
    ledger = runtime.ledger(settings)
    job = ledger.get_job(job_id, with_chunks=False)
    settled = False
    if not job.status.finished:
        job = recovery.close_chunks(ledger, job_id)
        status, error = recovery.outcome(job)
        chain = recovery.ancestors(ledger, job)
        stored = stored_by_resource(ledger, [job.id, *(j.id for j in chain)])
        records = sum(stored.values()) - sum(j.records_synced for j in chain)
        found = _drift(settings, job, stored) if status is JobStatus.COMPLETED else None
        settled = ledger.settle_job(job_id, status, error, records=records, drift=found)
        if settled and status is JobStatus.COMPLETED:
            # A resume completes its chain: the watermark is when the chain was planned.
            planned_at = (chain or [job])[-1].created_at
            ledger.set_watermarks(job.tenant, job.resources, planned_at, job.id)
            ledger.forget_edges([job.id, *(j.id for j in chain)])
    job = ledger.get_job(job_id)
    if progress is not None:
        progress.finish(job)
    if settled:
        report(ledger, job, resume_depth=len(chain))
    _say(job)
    return job


def report(ledger: Ledger, job: Job, resume_depth: int | None = None) -> None:
    """Publish a settled job's artifacts and send its outcome event; mark it reported once
    the event is sent, or when there is no Prefect API to tell (no one listens)."""
    if not PREFECT_API_URL.value():
        ledger.mark_outcome_reported(job.id)
        return
    publish_job(job)
    if resume_depth is None:
        resume_depth = len(recovery.ancestors(ledger, job))
    event = outcome_event(job, resume_depth=resume_depth, origin=run_origin(job.flow_run_id))
    try:
        emit_outcome(event)
    except Exception as exc:  # reconcile's sweep sends it again
        _log(
            logging.WARNING,
            "job %s: could not send its outcome event (it is sent again later): %s",
            job.id,
            exc,
        )
        return
    ledger.mark_outcome_reported(job.id)


def reconcile(
    settings: Settings, *, tenant: str | None = None, sync_type: str | None = None
) -> list[Job]:
    """Settle the jobs (of a tenant and type) whose run died, through ``settle``; a whole
    reconcile then also reports the outcomes whose reporter died. Returns the jobs it settled."""
    ledger = runtime.ledger(settings)
    stale = timedelta(seconds=settings.stale_after_seconds)
    dead = recovery.claim_dead(ledger, stale, flow_run_state, tenant=tenant, sync_type=sync_type)
    settled = [settle(settings, job.id) for job in dead]
    if tenant is None and sync_type is None:
        now = utcnow()
        for job in ledger.unreported_jobs(now - REPORT_HORIZON, now - REPORT_GRACE):
            report(ledger, job)
    return settled


def stored_by_resource(ledger: Ledger, chain: list[str]) -> dict[str, int]:
    """The distinct records a resume chain's completed chunks stored, per resource."""
    return {r: distinct_records(e) for r, e in ledger.completed_edges(chain).items()}


def _drift(settings: Settings, job: Job, stored: dict[str, int]) -> dict[str, Drift]:
    try:
        return drift(runtime.source(settings), job, stored)
    except JobsViewError as exc:
        _log(logging.WARNING, "job %s: could not count the source for drift: %s", job.id, exc)
        return {}


def _say(job: Job) -> None:
    what = f"{progress_text(job)}; {job.records_synced:,} records"
    if job.drift:
        what += f"; {drift_text(job)}"
    if job.error and job.status is not JobStatus.COMPLETED:
        what += f"; {job.error}"
    level = logging.INFO if job.status is JobStatus.COMPLETED and not job.drift else logging.WARNING
    _log(level, "job %s %s: %s", job.id, job.status.value, what)


def _log(level: int, message: str, *args: object) -> None:
    """Log a line; a broken output stream (a dead worker's pipe) must not end the settling."""
    with contextlib.suppress(Exception, SystemExit):  # rich: a broken pipe is SystemExit
        runtime.logger().log(level, message, *args)
