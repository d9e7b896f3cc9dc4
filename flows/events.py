"""Outcome events: every job emits ``jobsview.job.{status}`` when it settles.

The event's resource is the job (``jobsview.job.{id}``), labelled with what automations match
on; its related resources are the flow run and, for a deployment run, the deployment. The
shipped auto-resume (``deployments/``) matches ``jobsview.job.incomplete`` by deployment and
by ``jobsview.resume-depth``, the number of resumes before this job in its chain.
"""

from __future__ import annotations

from typing import Any

from prefect.events import emit_event
from prefect.runtime import deployment, flow_run

from flows.runtime import logger
from ledger.models import ChunkStatus, Job

EVENT_PREFIX = "jobsview.job"


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


def emit_outcome(job: Job, *, resume_depth: int) -> Any:
    """Emit the settled job's event; like the artifacts, it never fails the job."""
    name = deployment.name if deployment.id else None
    try:
        return emit_event(
            event=event_name(job),
            resource=job_resource(job, resume_depth=resume_depth, deployment_name=name),
            related=related_resources(job.flow_run_id or flow_run.id, deployment.id),
            payload={"error": job.error} if job.error else None,
        )
    except Exception as exc:
        logger().warning("job %s: could not emit its outcome event: %s", job.id, exc)
        return None
