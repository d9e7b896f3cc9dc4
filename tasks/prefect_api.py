"""The few Prefect API calls the job makes: tag its flow run, read a flow run's state."""

from __future__ import annotations

import logging
import math
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.objects import StateType
from prefect.concurrency.sync import rate_limit
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


def rate_limit_name(tenant: str) -> str:
    return f"jobsview-source-{tenant}"


def ensure_rate_limit(tenant: str, per_second: float) -> None:
    """A Prefect global rate limit per tenant, shared by every job and process."""
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(
            rate_limit_name(tenant),
            limit=max(1, math.ceil(per_second)),
            slot_decay_per_second=per_second,
        )


def take_rate_limit_slot(tenant: str) -> None:
    rate_limit(rate_limit_name(tenant), strict=False)


def flow_run_state(flow_run_id: str) -> StateType | None:
    """The flow run's state type, or None when Prefect cannot say."""
    try:
        with get_client(sync_client=True) as client:
            return client.read_flow_run(UUID(flow_run_id)).state_type
    except Exception as exc:
        log.debug("could not read flow run %s: %s", flow_run_id, exc)
        return None
