"""Prefect names and tags for a job's runs."""

from __future__ import annotations

from prefect import get_client, get_run_logger
from prefect.runtime import flow_run


def job_tags(tenant: str, sync_type: str) -> list[str]:
    return [f"tenant:{tenant}", f"sync-type:{sync_type}"]


def tag_flow_run(tenant: str, sync_type: str) -> None:
    """Add the job's tags to the current flow run, however it was started."""
    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(flow_run.id)
            wanted = [t for t in job_tags(tenant, sync_type) if t not in run.tags]
            if wanted:
                client.update_flow_run(flow_run.id, tags=[*run.tags, *wanted])
    except Exception as exc:  # tags are a convenience; the sync goes on without them
        get_run_logger().warning("could not tag the flow run: %s", exc)
