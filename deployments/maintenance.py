"""The maintenance deployment: ``flows.maintenance`` every half stale age, and at once when a
``sync-job`` flow run crashes (one automation, whatever the number of tenants).

So a crashed or vanished run is settled within ``JOBSVIEW_STALE_AFTER_SECONDS`` plus a minute
with only a worker running, and its outcome event lets the auto-resume take it. It has no
concurrency limit: two runs that overlap claim each job once (the ledger's conditional
updates), and a limit's slot, held by a run whose worker died, would stop every next run.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefect.events import DeploymentEventTrigger

FLOW_NAME = "jobsview-maintenance"
NAME = "reconcile"
ENTRYPOINT = "flows.maintenance:maintenance"
CRASHED_EVENT = "prefect.flow-run.Crashed"
SYNC_FLOW_RUNS = {"prefect.resource.role": "flow", "prefect.resource.name": "sync-job"}
TAGS = ["jobsview", "jobsview-maintenance"]
MIN_EVERY_SECONDS = 10


@dataclass(frozen=True)
class Maintenance:
    """The maintenance deployment, for a stale age."""

    stale_after_seconds: float

    @property
    def every_seconds(self) -> int:
        return max(MIN_EVERY_SECONDS, round(self.stale_after_seconds / 2))

    @property
    def description(self) -> str:
        return (
            f"Settle sync jobs whose run died, every {self.every_seconds}s and when a sync-job "
            "flow run crashes (`jobsview reconcile`)."
        )

    @property
    def trigger_name(self) -> str:
        return "jobsview settle crashed sync-job runs"

    def trigger(self) -> DeploymentEventTrigger:
        return DeploymentEventTrigger(
            name=self.trigger_name,
            description="A crashed sync-job flow run left its job unsettled: settle it now.",
            expect={CRASHED_EVENT},
            match_related=SYNC_FLOW_RUNS,  # type: ignore[arg-type]
        )
