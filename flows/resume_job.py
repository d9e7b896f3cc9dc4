"""The resume flow: a new job, linked to its parent, for the chunks that did not complete."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from flows.execute import execute
from flows.sync_job import new_job_id, timestamp
from tasks.plan_job import plan_resume_job
from tasks.prefect_api import tag_flow_run


def _flow_run_name() -> str:
    return f"resume-{str(flow_run.parameters['job_id'])[:8]}-{timestamp()}"


@flow(name="resume-job", flow_run_name=_flow_run_name)
def resume_job(job_id: str, new_id: str | None = None) -> Any:
    """Re-run, with the same windows, every chunk of ``job_id`` that did not complete.

    Refused for completed, queued or running jobs. Returns the new job, or raises
    like ``sync_job`` when it does not complete.
    """
    job = plan_resume_job(job_id, new_id or new_job_id(), flow_run_id=str(flow_run.id))
    tag_flow_run(job.tenant, job.sync_type)
    return execute(job)
