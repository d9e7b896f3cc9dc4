"""Plan a job: claim it, count each resource through the API, record its chunks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from chunking import SyncSize, plan_chunks
from connectors.source import RestSource
from core.errors import JobsViewError
from core.settings import get_settings
from core.validation import SyncType
from ledger.models import Job, JobStatus
from ledger.recovery import reconcile, resumable
from ledger.store import Ledger
from tasks import deps
from tasks.prefect_api import ensure_rate_limit, flow_run_state


def resolve_sync_size(
    ledger: Ledger, tenant: str, flag: SyncSize | None, default: SyncSize
) -> SyncSize:
    """The run's flag, else the tenant's stored setting, else the stored default, else
    JOBSVIEW_SYNC_SIZE."""
    return flag or ledger.tenant_sync_size(tenant) or ledger.default_sync_size() or default


def plan(
    ledger: Ledger,
    source: RestSource,
    *,
    job_id: str,
    tenant: str,
    sync_type: SyncType,
    sync_size: SyncSize,
    resources: Sequence[str],
    watermark_lag: timedelta,
    flow_run_id: str | None = None,
) -> Job:
    """Claim the job (refused while another runs), then plan and record its chunks.

    A planning error fails the job, which stays in the history with the reason.
    """
    job = ledger.adopt_queued(job_id, tenant, sync_type.value) or ledger.create_job(
        job_id=job_id,
        tenant=tenant,
        sync_type=sync_type.value,
        sync_size=sync_size.value,
        chunk_size=sync_size.chunk_size,
        resources=resources,
    )
    sync_size = SyncSize(job.sync_size)
    if flow_run_id:
        ledger.update_job(job.id, flow_run_id=flow_run_id)
    try:
        marks = ledger.watermarks(tenant) if sync_type is SyncType.PARTIAL else {}
        since = {r: marks[r] - watermark_lag for r in resources if r in marks}
        ran_as_full = sync_type is SyncType.PARTIAL and len(since) < len(resources)
        totals = [(r, source.count(tenant, r, since.get(r))) for r in resources]
        ledger.update_job(job.id, totals=dict(totals))
        ledger.add_chunks(job.id, plan_chunks(totals, sync_size.chunk_size), since)
        ledger.start_job(job.id, ran_as_full=ran_as_full)
    except JobsViewError as exc:
        ledger.finish_job(job.id, JobStatus.FAILED, error=f"planning failed: {exc}")
    return ledger.get_job(job.id, with_chunks=False)


def _reconcile_before_claim(ledger: Ledger, tenant: str, sync_type: str) -> None:
    """A dead run of the same tenant and type must not block this one forever."""
    settings = get_settings()
    for job in reconcile(
        ledger,
        timedelta(seconds=settings.stale_after_seconds),
        flow_run_state,
        tenant=tenant,
        sync_type=sync_type,
    ):
        get_run_logger().warning("reconciled job %s: %s (%s)", job.id, job.status.value, job.error)


@task(name="plan-job", cache_policy=NO_CACHE)
def plan_job(
    job_id: str,
    tenant: str,
    sync_type: SyncType,
    sync_size: SyncSize | None = None,
    flow_run_id: str | None = None,
) -> Job:
    settings = get_settings()
    ledger = deps.ledger()
    _reconcile_before_claim(ledger, tenant, sync_type.value)
    if settings.source_rate_limit:
        ensure_rate_limit(tenant, settings.source_rate_limit)
    size = resolve_sync_size(ledger, tenant, sync_size, settings.sync_size)
    return plan(
        ledger,
        deps.source(),
        job_id=job_id,
        tenant=tenant,
        sync_type=sync_type,
        sync_size=size,
        resources=settings.resources,
        watermark_lag=timedelta(seconds=settings.watermark_lag_seconds),
        flow_run_id=flow_run_id,
    )


def plan_resume(
    ledger: Ledger, parent_ref: str, job_id: str, flow_run_id: str | None = None
) -> Job:
    """Claim a job that re-runs the parent's unfinished chunks with the same windows."""
    parent = resumable(ledger, parent_ref, adopting=job_id)
    job = ledger.adopt_queued(job_id, parent.tenant, parent.sync_type) or ledger.claim_resume(
        parent, job_id
    )
    if flow_run_id:
        ledger.update_job(job.id, flow_run_id=flow_run_id)
    ledger.copy_unfinished_chunks(parent.id, job.id)
    ledger.start_job(job.id, ran_as_full=parent.ran_as_full)
    return ledger.get_job(job.id, with_chunks=False)


@task(name="plan-resume", cache_policy=NO_CACHE)
def plan_resume_job(parent_ref: str, job_id: str, flow_run_id: str | None = None) -> Job:
    ledger = deps.ledger()
    parent = ledger.get_job(parent_ref, with_chunks=False)
    _reconcile_before_claim(ledger, parent.tenant, parent.sync_type)
    return plan_resume(ledger, parent.id, job_id, flow_run_id)
