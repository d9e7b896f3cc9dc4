"""Claiming a job: the one-run rule, checked before any flow run exists.

A claim is a queued job in the ledger, and the database allows one queued or running job per
tenant and sync type, so two runs started together yield exactly one job. Whoever starts a
run claims first (the CLI, the web, ``sync_job(...)`` called from Python) and the flow run
then adopts the claimed job. A deployment run (a schedule, the Prefect UI, an automation)
exists before any code of ours runs, so it claims inside its flow run.
"""

from __future__ import annotations

import uuid

from chunking import SyncSize
from core.errors import InvalidInputError
from core.settings import Settings
from core.validation import SyncType, parse_sync_size, parse_sync_type, validate_tenant
from flows import runtime, stopping
from flows.runtime import logger
from flows.settle import reconcile, settle
from ledger.models import Job, JobStatus
from ledger.recovery import resumable
from ledger.store import Ledger
from tasks.plan_job import resolve_sync_size


def new_job_id() -> str:
    return str(uuid.uuid4())


def claim(
    ledger: Ledger,
    settings: Settings,
    *,
    tenant: str,
    sync_type: SyncType | str,
    sync_size: SyncSize | str | None = None,
    job_id: str | None = None,
    resume_of: str | None = None,
) -> Job:
    """A queued job for this run: the one claimed ahead as ``job_id``, or a new claim.

    Raises ``InvalidInputError`` for bad input, ``JobConflictError`` while another job of the
    tenant and type is queued or running, and ``JobStateError`` for a parent that cannot be
    resumed. A dead run of the same tenant and type is reconciled first, so it never blocks.
    """
    tenant = validate_tenant(tenant)
    kind = parse_sync_type(sync_type)
    size = parse_sync_size(sync_size) if sync_size is not None else None
    job_id = job_id or new_job_id()
    adopted = ledger.adopt_queued(job_id, tenant, kind.value)
    if adopted is not None:
        if resume_of and adopted.parent_id != ledger.resolve_id(resume_of):
            raise InvalidInputError(f"job {job_id} does not resume {resume_of}")
        return adopted
    for dead in reconcile(settings, tenant=tenant, sync_type=kind.value):
        logger().warning("reconciled job %s: %s (%s)", dead.id, dead.status.value, dead.error)
    if resume_of:
        parent = ledger.get_job(resume_of, with_chunks=False)
        if (parent.tenant, parent.sync_type) != (tenant, kind.value):
            raise InvalidInputError(
                f"job {parent.id} is a {parent.sync_type} job of tenant {parent.tenant!r}, "
                f"not a {kind.value} job of {tenant!r}: resume it with its own tenant and type"
            )
        return ledger.claim_resume(resumable(ledger, parent.id), job_id)
    size = resolve_sync_size(ledger, tenant, size, settings.sync_size)
    return ledger.create_job(
        job_id=job_id,
        tenant=tenant,
        sync_type=kind.value,
        sync_size=size.value,
        chunk_size=size.chunk_size,
        resources=settings.resources,
    )


def release_unstarted(settings: Settings, job_id: str, why: BaseException | str) -> None:
    """Settle a claimed job whose flow run never adopted it, so it blocks nothing: cancelled
    if its operator asked (Ctrl-C before it started), else failed, saying why."""
    ledger = runtime.ledger(settings)
    job = ledger.get_job(job_id, with_chunks=False)
    if job.status is not JobStatus.QUEUED or job.flow_run_id is not None:
        return
    if isinstance(why, BaseException) and stopping.asked_to_cancel(ledger, job_id, why):
        ledger.request_cancel(job_id)
    else:
        cause = stopping.describe(why) if isinstance(why, BaseException) else why
        ledger.interrupt(job_id, f"the flow run did not start: {cause}")
    settle(settings, job_id)
