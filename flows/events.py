"""Outcome events: every job emits ``jobsview.job.{status}`` when it settles.

The event's resource is the job (``jobsview.job.{id}``), labelled with what automations match
on; its related resources are the flow run and, for a deployment run, the deployment. Its id
is the job's, so however often it is sent, Prefect has it, and acts on it, once. The
shipped auto-resume (``deployments/``) matches ``jobsview.job.incomplete`` by deployment and
by ``jobsview.resume-depth``, the number of resumes before this job in its chain.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple
from uuid import NAMESPACE_URL, UUID, uuid5

from prefect.events import Event
from prefect.events.clients import get_events_client
from prefect.utilities.asyncutils import run_coro_as_sync

from ledger.models import ChunkStatus, Job

EVENT_PREFIX = "jobsview.job"


class RunOrigin(NamedTuple):
    """The deployment a job's flow run was started from, if any."""

    deployment_id: str | None = None
    deployment: str | None = None  # its name, which the auto-resume matches on


def event_name(job: Job) -> str:
    return f"{EVENT_PREFIX}.{job.status.value}"


def job_resource(job: Job, *, resume_depth: int, deployment_name: str | None) -> dict[str, str]:
    """The job as an event resource: every label a string, as Prefect requires."""
    labels = {
        "prefect.resource.id": f"{EVENT_PREFIX}.{job.id}",
        "prefect.resource.name": f"{job.tenant} {job.sync_type} job {job.id[:8]}",
        "jobsview.job-id": job.id,
        "jobsview.tenant": job.tenant,
        "jobsview.sync-type": job.sync_type,
        "jobsview.status": job.status.value,
        "jobsview.records-synced": str(job.records_synced),
        "jobsview.resume-depth": str(resume_depth),
        "jobsview.parent-id": job.parent_id or "",
        "jobsview.deployment": deployment_name or "",
    }
    labels |= {f"jobsview.chunks.{s.value}": str(job.counts.get(s, 0)) for s in ChunkStatus}
    return labels


def related_resources(flow_run_id: str | None, deployment_id: str | None) -> list[dict[str, str]]:
    related = []
    if flow_run_id:
        related.append(
            {
                "prefect.resource.id": f"prefect.flow-run.{flow_run_id}",
                "prefect.resource.role": "flow-run",
            }
        )
    if deployment_id:
        related.append(
            {
                "prefect.resource.id": f"prefect.deployment.{deployment_id}",
                "prefect.resource.role": "deployment",
            }
        )
    return related


def outcome_event_id(job_id: str) -> UUID:
    """The same id for every emission of a job's outcome: Prefect stores and triggers on an
    event id once, so a re-emission (by reconcile's sweep, say) can never resume twice."""
    return uuid5(NAMESPACE_URL, f"{EVENT_PREFIX}.{job_id}.outcome")


def outcome_event(job: Job, *, resume_depth: int, origin: RunOrigin) -> Event:
    return Event.model_validate(
        {
            "id": outcome_event_id(job.id),
            "occurred": datetime.now(UTC),  # when it is told, as automations' windows expect
            "event": event_name(job),
            "resource": job_resource(
                job, resume_depth=resume_depth, deployment_name=origin.deployment
            ),
            "related": related_resources(job.flow_run_id, origin.deployment_id),
            "payload": {"error": job.error} if job.error else {},
        }
    )


def emit_outcome(event: Event) -> None:
    """Send the outcome event and wait until the Prefect server has it; raises if it cannot.

    Not through Prefect's background events worker, which gives up silently when its process
    ends first: the ledger records the event as sent only once it is.
    """

    async def send() -> None:
        async with get_events_client(reconnection_attempts=2, checkpoint_every=1) as client:
            await client.emit(event)

    run_coro_as_sync(send())
