"""The few Prefect API calls a job makes: tag its flow run, read a flow run's state."""

from __future__ import annotations

import logging
from uuid import UUID

from prefect import get_client
from prefect.runtime import flow_run
from prefect.settings import PREFECT_API_URL

from flows import adapter
from ledger.recovery import RunState

log = logging.getLogger(__name__)


def job_tags(tenant: str, sync_type: str, resume_of: str | None = None) -> list[str]:
    """The tags of a job's flow run and of every one of its task runs."""
    tags = [f"tenant:{tenant}", f"sync-type:{sync_type}"]
    return [*tags, f"resume-of:{resume_of}"] if resume_of else tags


def tag_flow_run(tags: list[str]) -> None:
    """Add the job's tags the current flow run lacks (one API call, only when some do)."""
    present = list(flow_run.tags)
    missing = [t for t in tags if t not in present]
    if not missing:
        return
    try:
        with get_client(sync_client=True) as client:
            client.update_flow_run(flow_run.id, tags=[*present, *missing])
    except Exception as exc:  # tags are a convenience; the sync goes on without them
        log.warning("could not tag the flow run: %s", exc)


def flow_run_state(flow_run_id: str) -> RunState | None:
    """The flow run's state in Jobs View terms, or None when Prefect cannot say.

    Without a configured server there is nothing to ask: each process's temporary server
    knows only its own runs, and starting one just to ask would cost seconds.
    """
    if not PREFECT_API_URL.value():
        return None
    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(UUID(flow_run_id)).state
    except Exception as exc:
        log.debug("could not read flow run %s: %s", flow_run_id, exc)
        return None
    return adapter.run_state(state.type, state.name) if state else None
