"""The shipped automation: an incomplete job is resumed through its deployment, a few times,
each time after a longer wait. Failed and cancelled jobs are never resumed.

A job's outcome event carries ``jobsview.resume-depth``: how many resumes came before it in
its chain. Attempt ``n`` (from 1) matches depth ``n - 1`` and waits ``delay * 2**(n-1)``
before its run; past the last attempt nothing matches. Each attempt is one deployment
trigger, so ``prefect deploy`` and ``jobsview deployments serve`` create the same automations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from prefect.events import DeploymentEventTrigger

from flows.events import EVENT_PREFIX

INCOMPLETE_EVENT = f"{EVENT_PREFIX}.incomplete"
RESUME_OF_TEMPLATE = "{{ event.resource['jobsview.job-id'] }}"


@dataclass(frozen=True)
class AutoResume:
    """Attempt ``attempt`` at resuming an incomplete job of ``deployment``."""

    deployment: str
    attempt: int
    delay_seconds: float

    @property
    def name(self) -> str:
        return f"jobsview auto-resume {self.deployment} #{self.attempt}"

    @property
    def description(self) -> str:
        return (
            f"Resume an incomplete job of {self.deployment} (attempt {self.attempt}), "
            f"{self.delay_seconds:g}s after it settled."
        )

    @property
    def match(self) -> dict[str, str]:
        return {
            "prefect.resource.id": f"{EVENT_PREFIX}.*",
            "jobsview.deployment": self.deployment,
            "jobsview.resume-depth": str(self.attempt - 1),
        }

    @property
    def parameters(self) -> dict[str, str]:
        return {"resume_of": RESUME_OF_TEMPLATE}

    def trigger(self) -> DeploymentEventTrigger:
        return DeploymentEventTrigger(
            name=self.name,
            description=self.description,
            expect={INCOMPLETE_EVENT},
            match=self.match,  # type: ignore[arg-type]
            parameters=self.parameters,
            schedule_after=timedelta(seconds=self.delay_seconds),
        )

    def yaml_fields(self) -> dict[str, Any]:
        """What differs between attempts in prefect.yaml (the rest is a shared anchor)."""
        return {
            "name": self.name,
            "match": self.match,
            "schedule_after": self.delay_seconds,
        }


def auto_resumes(deployment: str, attempts: int, delay_seconds: float) -> list[AutoResume]:
    return [AutoResume(deployment, n, delay_seconds * 2 ** (n - 1)) for n in range(1, attempts + 1)]
