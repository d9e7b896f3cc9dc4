"""Recurring operation on production's shape: how long Prefect takes to act, in one run.

A real `prefect server start` on PostgreSQL, `prefect deploy` of a rendered deployment, and
a process worker at Prefect's default polling (or ``--query-seconds``); the ledger on
PostgreSQL, the demo source on loopback. Measured, each over ``--rounds`` rounds:

1. A schedule firing -> the first chunk running: a schedule a few seconds out on the
   deployment, from its scheduled time to the earliest chunk ``started_at`` in the ledger.
2. A cancel set in Prefect (what the UI's Cancel button does) -> the job ``cancelled`` in
   the ledger, for a run the worker launched.

Usage: python bench/platform_bench.py [--rounds 3] [--query-seconds 10]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import save_result  # noqa: E402

T = TypeVar("T")


LOGS: list[Path] = []


def wait_for(what: str, check: Callable[[], T | None], timeout: float = 120) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    tails = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in LOGS if p.exists())
    raise RuntimeError(f"timed out waiting for {what}\n{tails}")


def scheduled_run(client: Any, fires_at: datetime) -> Any:
    """The flow run the scheduler made for ``fires_at``, once it exists."""
    for run in client.read_flow_runs():
        when = run.expected_start_time
        if run.auto_scheduled and when and abs(when - fires_at) < timedelta(seconds=1):
            return run
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--query-seconds", type=float, default=10.0)
    args = parser.parse_args()

    from prefect import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.schedules import IntervalSchedule
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.states import Cancelling

    from demo.source import DemoSourceServer
    from ledger.models import ChunkStatus, Job
    from ledger.store import get_ledger
    from tests.databases import postgres_schema
    from tests.platform import (
        base_env,
        command,
        postgres_database,
        prefect_cli,
        prefect_server,
        process_worker,
    )

    tenants = '[defaults]\npartial = "0 * * * *"\nfull = "30 2 * * *"\nwork_pool = "bench"\n'
    tenants += "[tenants.acme]\n"
    with (
        tempfile.TemporaryDirectory() as tmp,
        postgres_database() as prefect_db,
        prefect_server(Path(tmp) / "home", prefect_db, Path(tmp) / "server.log") as api_url,
        postgres_schema() as db_url,
        DemoSourceServer() as source,
        temporary_settings(updates={PREFECT_API_URL: api_url}),
    ):
        home = Path(tmp)
        LOGS.extend([home / "worker.log", home / "server.log"])
        env = base_env(home / "home", api_url) | {
            "JOBSVIEW_DATABASE_URL": db_url,
            "JOBSVIEW_SOURCE_URL": source.url,
            "JOBSVIEW_PAGE_SIZE": "50",
        }
        (home / "tenants.toml").write_text(tenants)
        import subprocess

        subprocess.run(
            [command("jobsview"), "deployments", "render", "--config", str(home / "tenants.toml"),
             "--output", str(home / "prefect.yaml")],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        prefect_cli(env, "work-pool", "create", "bench", "--type", "process", "--overwrite")
        prefect_cli(env, "deploy", "--all", "--prefect-file", str(home / "prefect.yaml"), cwd=home)
        worker_env = env | {"PREFECT_WORKER_QUERY_SECONDS": str(args.query_seconds)}
        ledger = get_ledger(db_url)

        def job_of(run_id: Any) -> Job | None:
            found = [j for j in ledger.list_jobs(limit=500) if j.flow_run_id == str(run_id)]
            return ledger.get_job(found[0].id) if found else None

        def ended(run_id: Any) -> bool:
            job = job_of(run_id)
            return job is not None and job.status.finished

        with (
            process_worker(worker_env, "bench", home / "worker.log"),
            get_client(sync_client=True) as client,
        ):
            deployment = client.read_deployment_by_name("sync-job/acme-full")
            first_chunk: list[float] = []
            for _ in range(args.rounds):
                fires_at = datetime.now(UTC) + timedelta(seconds=15)
                (added,) = client.create_deployment_schedules(
                    deployment.id,
                    [(IntervalSchedule(interval=timedelta(days=1), anchor_date=fires_at), True)],  # type: ignore[arg-type]
                )

                def fired(at: datetime = fires_at) -> Any:
                    return scheduled_run(client, at)

                run = wait_for("the scheduler", fired)

                def started(run_id: Any = run.id) -> Job | None:
                    job = job_of(run_id)
                    return job if job and any(c.started_at for c in job.chunks or ()) else None

                job = wait_for("the first chunk", started)
                began = min(c.started_at for c in job.chunks or () if c.started_at)
                first_chunk.append((began - fires_at).total_seconds())
                wait_for("the run to end", functools.partial(ended, run.id))
                client.delete_deployment_schedule(deployment.id, added.id)

            full = client.read_deployment_by_name("sync-job/acme-full")
            source.faults.slow_ms = 100
            cancel: list[float] = []
            for _ in range(args.rounds):
                run = client.create_flow_run_from_deployment(
                    full.id, parameters={"sync_size": "small"}
                )

                def going(run_id: Any = run.id) -> Job | None:
                    job = job_of(run_id)
                    return job if job and job.counts[ChunkStatus.COMPLETED] >= 2 else None

                wait_for("chunks to complete", going)
                asked = time.perf_counter()
                client.set_flow_run_state(run.id, Cancelling())
                wait_for("the job to be cancelled", functools.partial(ended, run.id))
                cancel.append(time.perf_counter() - asked)

                def flow_run_cancelled(run_id: Any = run.id) -> bool:
                    return client.read_flow_run(run_id).state_type == StateType.CANCELLED

                wait_for("the flow run to end", flow_run_cancelled)

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "median_s": statistics.median(values),
            "max_s": max(values),
            "rounds": len(values),
        }

    result = {
        "worker_query_seconds": args.query_seconds,
        "schedule_fired_to_first_chunk": summary(first_chunk) | {"all_s": first_chunk},
        "cancel_in_prefect_to_job_cancelled": summary(cancel) | {"all_s": cancel},
    }
    save_result("platform_bench", result)


if __name__ == "__main__":
    main()
