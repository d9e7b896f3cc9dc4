"""Production-shaped fixtures: a real `prefect server start` on PostgreSQL, `prefect deploy`
of rendered deployments, and a process worker; the ledger and destination on PostgreSQL."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from connectors.destination import Destination, get_destination
from demo.faults import DemoFaults
from demo.source import DemoSourceServer
from ledger.store import Ledger, get_ledger
from tests.databases import postgres_schema
from tests.platform import (
    base_env,
    command,
    postgres_database,
    prefect_cli,
    prefect_server,
    process_worker,
)
from tests.support import assert_destination_equals_source

POOL = "jobsview-test"
TENANTS = """
[defaults]
timezone = "UTC"
partial = "0 * * * *"
full = "30 2 * * *"
work_pool = "jobsview-test"

[tenants.acme]

[tenants.globex]
timezone = "Europe/Berlin"
"""
# Rendered into the deployments' auto-resume triggers and given to the worker.
JOB_SETTINGS = {
    "JOBSVIEW_CHUNK_RETRIES": "0",
    "JOBSVIEW_CHUNK_RETRY_DELAY_SECONDS": "0",
    "JOBSVIEW_AUTO_RESUME_DELAY_SECONDS": "1",
    "JOBSVIEW_PAGE_SIZE": "50",
}


@dataclass
class Platform:
    api_url: str
    db_url: str
    source: DemoSourceServer
    env: dict[str, str]  # for subprocesses: the Prefect server and the Jobs View settings
    home: Path

    @property
    def ledger(self) -> Ledger:
        return get_ledger(self.db_url)

    @property
    def destination(self) -> Destination:
        return get_destination(self.db_url)

    def wait_for(self, what: str, check: Callable[[], object], timeout: float = 90) -> object:
        deadline = time.monotonic() + timeout
        while True:
            found = check()
            if found:
                return found
            if time.monotonic() > deadline:
                logs = "\n".join(
                    f"--- {p.name}\n{p.read_text()[-2500:]}" for p in self.home.glob("*.log")
                )
                pytest.fail(f"timed out waiting for {what}\n{logs}")
            time.sleep(0.2)

    def assert_destination_equals_source(self, tenant: str) -> None:
        assert_destination_equals_source(self.source, self.destination, tenant)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    home = tmp_path_factory.mktemp("platform")
    with (
        postgres_database() as prefect_db,
        prefect_server(home / "prefect-home", prefect_db, home / "server.log") as api_url,
        postgres_schema() as db_url,
        DemoSourceServer(faults=DemoFaults(seed=7)) as source,
        temporary_settings(updates={PREFECT_API_URL: api_url}),
    ):
        env = base_env(home / "prefect-home", api_url) | JOB_SETTINGS
        env |= {"JOBSVIEW_DATABASE_URL": db_url, "JOBSVIEW_SOURCE_URL": source.url}
        tenants = home / "tenants.toml"
        tenants.write_text(TENANTS)
        prefect_file = home / "prefect.yaml"
        # What the README tells operators to run: render, then `prefect deploy --all`.
        rendered = _run(
            env,
            command("jobsview"),
            "deployments",
            "render",
            "--config",
            str(tenants),
            "--output",
            str(prefect_file),
        )
        assert "Wrote 4 deployments" in rendered
        prefect_cli(env, "work-pool", "create", POOL, "--type", "process", "--overwrite")
        prefect_cli(env, "deploy", "--all", "--prefect-file", str(prefect_file), cwd=home)
        polling = {"PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "5"}
        with process_worker(env | polling, POOL, home / "worker.log"):
            yield Platform(api_url, db_url, source, env, home)


def _run(env: dict[str, str], *args: str) -> str:
    import subprocess

    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def prod(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    """The platform, with this process configured like its worker, and a clean source."""
    for name, value in platform.env.items():
        if name.startswith("JOBSVIEW_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("PREFECT_API_URL", platform.api_url)  # for the web's launcher
    platform.source.faults.replace_with(DemoFaults(seed=7))
    yield platform
    platform.source.faults.replace_with(DemoFaults(seed=7))
    assert os.environ.get("PREFECT_API_URL") == platform.api_url
