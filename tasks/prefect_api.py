"""The few Prefect API calls the job makes: tag its flow run, read a flow run's state."""

from __future__ import annotations

import logging
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.objects import StateType
from prefect.runtime import flow_run

log = logging.getLogger(__name__)


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
        log.warning("could not tag the flow run: %s", exc)


def flow_run_state(flow_run_id: str) -> StateType | None:
    """The flow run's state type, or None when Prefect cannot say."""
    try:
        with get_client(sync_client=True) as client:
            return client.read_flow_run(UUID(flow_run_id)).state_type
    except Exception as exc:
        log.debug("could not read flow run %s: %s", flow_run_id, exc)
        return None
