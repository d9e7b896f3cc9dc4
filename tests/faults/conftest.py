"""The fault suite's platform: production's shape, with a short stale age so that a run that
dies is settled within seconds, and helpers that read what operators read: the ledger, the
Prefect API's flow runs and task runs, and the ``jobsview.job.*`` events."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun, StateType, TaskRun

from demo.faults import DemoFaults
from ledger import ChunkStatus, Job, JobStatus
from tests.platform import Platform, production

POOL = "jobsview-faults"
SIZES = {
    "crashco": {"contacts": 3_000, "deals": 0},
    "termed": {"contacts": 3_000, "deals": 0},
    "orphan": {"contacts": 3_000, "deals": 0},
    "twin": {"contacts": 6_000, "deals": 0},
    "racer": {"contacts": 400, "deals": 100},
    "liar": {"contacts": 250, "deals": 0},
    "stopper": {"contacts": 2_000, "deals": 0},
    "sleeper": {"contacts": 2_000, "deals": 0},
    "shaky": {"contacts": 2_000, "deals": 0},
    "cli": {"contacts": 3_000, "deals": 0},
}
# Schedules that never fire during the suite (February 29th): every run starts by hand.
TENANTS = (
    '[defaults]\nwork_pool = "jobsview-faults"\npartial = "0 * 29 2 *"\nfull = "0 3 29 2 *"\n'
    + "".join(f"[tenants.{name}]\n" for name in SIZES)
)
STALE_AFTER_SECONDS = 8
SETTINGS = {
    "JOBSVIEW_CHUNK_RETRIES": "2",
    "JOBSVIEW_CHUNK_RETRY_DELAY_SECONDS": "1",
    "JOBSVIEW_AUTO_RESUME_DELAY_SECONDS": "1",
    "JOBSVIEW_PAGE_SIZE": "50",
    "JOBSVIEW_STALE_AFTER_SECONDS": str(STALE_AFTER_SECONDS),
}
FINAL = {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}
REPORT = Path(os.environ.get("JOBSVIEW_FAULT_REPORT", "/dev/null"))


@pytest.fixture(scope="package")
def faults_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    home = tmp_path_factory.mktemp("faults")
    with production(home, TENANTS, SETTINGS, POOL) as platform:
        for tenant, counts in SIZES.items():
            platform.source.store.add_tenant(tenant, counts)
        yield platform


@pytest.fixture
def prod(faults_platform: Platform, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    """The platform with this process configured like its worker, a clean source, and a
    worker running."""
    for name, value in faults_platform.env.items():
        if name.startswith("JOBSVIEW_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("PREFECT_API_URL", faults_platform.api_url)
    faults_platform.source.faults.replace_with(DemoFaults(seed=7))
    faults_platform.source.store.before_page = None
    if faults_platform.worker is None or faults_platform.worker.poll() is not None:
        faults_platform.start_worker()
    yield faults_platform
    faults_platform.source.faults.replace_with(DemoFaults(seed=7))
    faults_platform.source.store.before_page = None


# -- reading what happened ---------------------------------------------------------------------


def start(name: str, **kwargs: Any) -> FlowRun:
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(f"sync-job/{name}")
        return client.create_flow_run_from_deployment(deployment.id, **kwargs)


def flow_run(run_id: UUID | str) -> FlowRun:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(UUID(str(run_id)))


def task_runs(run_id: UUID | str) -> list[TaskRun]:
    with get_client(sync_client=True) as client:
        return client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(str(run_id))]))
        )


def jobs_of(prod: Platform, tenant: str) -> list[Job]:
    return prod.ledger.list_jobs(tenant=tenant, limit=100)


def job_of_run(prod: Platform, run_id: UUID | str) -> Job | None:
    found = [j for j in prod.ledger.list_jobs(limit=500) if j.flow_run_id == str(run_id)]
    return prod.ledger.get_job(found[0].id) if found else None


def running_job(prod: Platform, run_id: UUID | str, completed: int = 2) -> Job:
    """The job of a flow run, once ``completed`` of its chunks have."""

    def check() -> Job | None:
        job = job_of_run(prod, run_id)
        return job if job and job.counts[ChunkStatus.COMPLETED] >= completed else None

    found = prod.wait_for(f"{completed} chunks of flow run {run_id}", check)
    assert isinstance(found, Job)
    return found


def settled(prod: Platform, job_id: str, timeout: float = 90) -> Job:
    def check() -> Job | None:
        job = prod.ledger.get_job(job_id)
        return job if job.status.finished else None

    found = prod.wait_for(f"job {job_id} to settle", check, timeout)
    assert isinstance(found, Job)
    return found


def flow_run_ended(prod: Platform, run_id: UUID | str, timeout: float = 90) -> FlowRun:
    found = prod.wait_for(
        f"flow run {run_id} to end", lambda: flow_run(run_id).state_type in FINAL, timeout
    )
    assert found
    return flow_run(run_id)


def outcome_events(prod: Platform, job_id: str) -> list[dict[str, Any]]:
    answer = httpx.post(
        f"{prod.api_url}/events/filter",
        json={"filter": {"resource": {"id": [f"jobsview.job.{job_id}"]}}, "limit": 50},
    )
    answer.raise_for_status()
    return list(answer.json()["events"])


def one_outcome_event(prod: Platform, job: Job) -> dict[str, Any]:
    """The job's outcome event: exactly one, named by its status."""
    prod.wait_for(f"the outcome event of {job.id}", lambda: outcome_events(prod, job.id), 30)
    time.sleep(1)  # a second one, if any, would have landed by now
    events = outcome_events(prod, job.id)
    assert [e["event"] for e in events] == [f"jobsview.job.{job.status.value}"], events
    return events[0]


def resumes(prod: Platform, job: Job, wait: float = 0) -> list[Job]:
    """The jobs resuming ``job``, after waiting ``wait`` seconds for none to appear."""
    time.sleep(wait)
    return [prod.ledger.get_job(i) for i in prod.ledger.get_job(job.id).resumed_by]


def chain_end(prod: Platform, job: Job, timeout: float = 120) -> Job:
    """Follow ``job``'s resumes until one completes."""

    def check() -> Job | None:
        current = prod.ledger.get_job(job.id)
        while current.resumed_by:
            current = prod.ledger.get_job(current.resumed_by[-1])
        return current if current.status is JobStatus.COMPLETED else None

    found = prod.wait_for(f"the resume chain of {job.id} to complete", check, timeout)
    assert isinstance(found, Job)
    return found


def assert_chain_exact(prod: Platform, chain: list[Job]) -> None:
    """A resume chain stored exactly the source's records, and its jobs' counts add up to
    the rows stored, each record once."""
    tenant = chain[0].tenant
    prod.assert_destination_equals_source(tenant)
    total = sum(prod.ledger.get_job(j.id).records_synced for j in chain)
    assert total == prod.destination.count(tenant)


def report(case: str, job: Job, events: int, follow_up: str, seconds: float) -> None:
    """A row of the fault table: case, status, events, follow-up, time to settle."""
    row = f"{case} | {job.status.value} | {events} | {follow_up} | {seconds:.1f} s"
    print(f"FAULT {row}")
    with REPORT.open("a") as out:
        out.write(row + "\n")
