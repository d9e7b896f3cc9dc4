"""The sync job flow: plan a tenant's chunks, run one task per chunk, settle the job."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from chunking import SyncSize
from core.validation import SyncType, parse_sync_size, parse_sync_type, validate_tenant
from flows.execute import execute
from ledger.render import describe_previous
from tasks import deps
from tasks.plan_job import plan_job
from tasks.prefect_api import tag_flow_run


def new_job_id() -> str:
    return str(uuid.uuid4())


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _flow_run_name() -> str:
    params = flow_run.parameters
    return f"{params['tenant']}-{params.get('sync_type', 'full')}-{timestamp()}"


@flow(name="sync-job", flow_run_name=_flow_run_name)
def sync_job(
    tenant: str,
    sync_type: SyncType = SyncType.FULL,
    sync_size: SyncSize | None = None,
    job_id: str | None = None,
) -> Any:
    """Sync one tenant's resources from the source API into the destination.

    Returns the finished ``Job``. A job that does not complete raises
    ``JobFailedError``, ``JobIncompleteError`` or ``JobCancelledError``, each
    carrying the job; ``return_state=True`` gives the Prefect state instead.
    """
    tenant = validate_tenant(tenant)
    kind = parse_sync_type(sync_type)
    size = parse_sync_size(sync_size) if sync_size is not None else None
    tag_flow_run(tenant, kind.value)
    ledger = deps.ledger()
    job_id = job_id or new_job_id()
    get_run_logger().info(
        describe_previous(ledger.previous_job(tenant, kind.value), tenant, kind.value)
    )
    job = plan_job(job_id, tenant, kind, size, flow_run_id=str(flow_run.id))
    return execute(job)
