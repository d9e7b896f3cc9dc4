"""The web's hand-off: a claimed job runs on its tenant's deployment when one is ready.

So a job started from the web runs where the schedules run, on a worker or on the process
serving the deployments. A deployment is ready when Prefect has seen its runner or a worker
of its pool lately, and not paused.
"""

from __future__ import annotations

from uuid import UUID

from prefect import get_client
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import DeploymentStatus
from prefect.exceptions import ObjectNotFound

from deployments.config import FLOW_NAME, deployment_name
from flows.prefect_api import job_tags
from ledger.models import Job


def ready_deployment(client: SyncPrefectClient, tenant: str, sync_type: str) -> UUID | None:
    """The id of ``sync-job/{tenant}-{type}`` if it is ready to run now."""
    try:
        found = client.read_deployment_by_name(f"{FLOW_NAME}/{deployment_name(tenant, sync_type)}")
    except ObjectNotFound:
        return None
    if found.paused or found.status is not DeploymentStatus.READY:
        return None
    return found.id


def hand_off(job: Job) -> str | None:
    """Start the claimed ``job`` on its deployment: the flow run's id, or None if none is ready.

    The run adopts the claimed job (``job_id``), so it needs nothing else from here.
    """
    with get_client(sync_client=True) as client:
        deployment_id = ready_deployment(client, job.tenant, job.sync_type)
        if deployment_id is None:
            return None
        parameters = {"job_id": job.id}
        if job.parent_id:
            parameters["resume_of"] = job.parent_id
        run = client.create_flow_run_from_deployment(
            deployment_id,
            parameters=parameters,
            tags=job_tags(job.tenant, job.sync_type, job.parent_id),
        )
    return str(run.id)
