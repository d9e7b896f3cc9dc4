"""``jobsview deployments serve``: every recurring sync from one process, without a work pool.

The same deployments as ``prefect.yaml`` (names, schedules, tags, parameters, the one-run
concurrency limit and the auto-resume triggers, and the maintenance deployment), served by
``prefect.serve``: each run starts in a subprocess of this one.
"""

from __future__ import annotations

from typing import Any

from prefect import serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron, Interval

from core.settings import Settings
from deployments.auto_resume import auto_resumes
from deployments.config import DeploymentSpec
from deployments.maintenance import NAME, TAGS, Maintenance
from flows.maintenance import maintenance
from flows.sync_job import sync_job

ONE_AT_A_TIME = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)


def runner_deployment(spec: DeploymentSpec, settings: Settings) -> RunnerDeployment:
    resumes = auto_resumes(
        spec.name, settings.auto_resume_attempts, settings.auto_resume_delay_seconds
    )
    return sync_job.to_deployment(  # type: ignore[return-value]
        name=spec.name,
        description=spec.description,
        schedules=[Cron(spec.cron, timezone=spec.timezone)],
        concurrency_limit=ONE_AT_A_TIME,
        parameters=spec.parameters,
        tags=spec.tags,
        triggers=[r.trigger() for r in resumes],
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def maintenance_deployment(settings: Settings) -> RunnerDeployment:
    upkeep = Maintenance(settings.stale_after_seconds)
    return maintenance.to_deployment(  # type: ignore[return-value]
        name=NAME,
        description=upkeep.description,
        schedules=[Interval(upkeep.every_seconds)],
        tags=TAGS,
        triggers=[upkeep.trigger()],
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def serve_all(specs: list[DeploymentSpec], settings: Settings, **options: Any) -> None:
    """Serve every deployment, and the maintenance one, until interrupted; the schedules
    pause when it stops."""
    deployments = [runner_deployment(spec, settings) for spec in specs]
    serve(*deployments, maintenance_deployment(settings), **options)
