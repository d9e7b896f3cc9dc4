"""The few Prefect API calls a job makes: tag its flow run, read a flow run's state and origin."""

from __future__ import annotations

import logging
from uuid import UUID

from prefect import get_client
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import FlowRun
from prefect.runtime import deployment, flow_run
from prefect.settings import PREFECT_API_URL

from flows import adapter
from flows.events import RunOrigin
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


def read_flow_run(flow_run_id: str, client: SyncPrefectClient | None = None) -> FlowRun | None:
    """The flow run, or None when Prefect cannot say (the API briefly away, say)."""
    try:
        if client is not None:
            return client.read_flow_run(UUID(flow_run_id))
        with get_client(sync_client=True) as own:
            return own.read_flow_run(UUID(flow_run_id))
    except Exception as exc:
        log.debug("could not read flow run %s: %s", flow_run_id, exc)
        return None


def flow_run_state(flow_run_id: str) -> RunState | None:
    """The flow run's state in Jobs View terms, or None when Prefect cannot say.

    Without a configured server there is nothing to ask: each process's temporary server
    knows only its own runs, and starting one just to ask would cost seconds.
    """
    run = read_flow_run(flow_run_id) if PREFECT_API_URL.value() else None
    state = run.state if run else None
    return adapter.run_state(state.type, state.name, state.timestamp) if state else None


def cancel_asked(flow_run_id: str, client: SyncPrefectClient | None = None) -> bool:
    """Whether Prefect shows the flow run asked to stop (Cancelling, from the UI or the API);
    False when it cannot say."""
    run = read_flow_run(flow_run_id, client)
    return run is not None and adapter.cancel_requested(run.state_type)


def run_origin(flow_run_id: str | None) -> RunOrigin:
    """The deployment ``flow_run_id`` was started from: this run's own when it is the current
    flow run, else asked of the API (empty when there is none, or Prefect cannot say)."""
    if not flow_run_id:
        return RunOrigin()
    if str(flow_run.id) == flow_run_id:
        deployment_id = deployment.id
        return RunOrigin(deployment_id, deployment.name if deployment_id else None)
    run = read_flow_run(flow_run_id) if PREFECT_API_URL.value() else None
    if run is None or run.deployment_id is None:
        return RunOrigin()
    try:
        with get_client(sync_client=True) as client:
            name = client.read_deployment(run.deployment_id).name
    except Exception as exc:
        log.debug("could not read deployment %s: %s", run.deployment_id, exc)
        return RunOrigin(str(run.deployment_id))
    return RunOrigin(str(run.deployment_id), name)
