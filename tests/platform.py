"""Production-shaped Prefect for tests and benchmarks: a real `prefect server start` whose
database is a fresh PostgreSQL database, a process work pool and its worker, `prefect deploy`;
the ledger and destination on PostgreSQL (``production``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from connectors.destination import Destination, get_destination
from demo.faults import DemoFaults
from demo.source import DemoSourceServer
from ledger.store import Ledger, get_ledger
from tests.databases import PG_SERVER, postgres_schema
from tests.support import assert_destination_equals_source

BIN = Path(sys.executable).parent
Process = subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command(name: str) -> str:
    found = shutil.which(name, path=str(BIN))
    if not found:
        raise RuntimeError(f"{name} is not installed next to {sys.executable}")
    return found


def base_env(home: Path, api_url: str | None = None) -> dict[str, str]:
    """This process's environment without Prefect or Jobs View settings, plus a Prefect home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "JOBSVIEW_"))}
    env["PREFECT_HOME"] = str(home)
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def stop(proc: subprocess.Popen[bytes], grace: float = 20) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=grace)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database: its asyncpg URL, for a Prefect server."""
    name = f"jv_prefect_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_SERVER).set(drivername="postgresql+asyncpg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def prefect_server(home: Path, database_url: str, log: Path) -> Iterator[str]:
    """`prefect server start` on a free loopback port; yields its API URL."""
    port = free_port()
    env = base_env(home) | {
        "PREFECT_API_DATABASE_CONNECTION_URL": database_url,
        "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api",  # the UI's pages call this
        # Schedules a few seconds out are inserted quickly.
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
        "PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": "1",
        # A run waiting for its deployment's concurrency slot tries again after this.
        "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "2",
    }
    args = [command("prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with background(args, env, log) as proc:
        api_url = f"http://127.0.0.1:{port}/api"
        wait_healthy(api_url, proc, log)
        yield api_url


def wait_healthy(
    api_url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the Prefect server exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the Prefect server did not start: {log.read_text()[-3000:]}")


def prefect_cli(env: dict[str, str], *args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [command("prefect"), "--no-prompt", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if done.returncode != 0:
        raise RuntimeError(f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@contextmanager
def background(
    args: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``args`` running in their own process group, output to ``log``, stopped afterwards."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            args,
            env=env,
            cwd=log.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        stop(proc)


def process_worker(env: dict[str, str], pool: str, log: Path) -> Any:
    """A worker of the process work pool ``pool`` (its polling as ``env`` says)."""
    args = [command("prefect"), "worker", "start", "--pool", pool, "--type", "process"]
    return background(args, env, log)


def served_deployments(env: dict[str, str], tenants_file: Path, log: Path) -> Any:
    """`jobsview deployments serve` in its own process."""
    args = [command("jobsview"), "deployments", "serve", "--config", str(tenants_file)]
    return background(args, env | {"PREFECT_RUNNER_POLL_FREQUENCY": "1"}, log)


# How fast a test's worker picks up runs.
WORKER_POLLING = {"PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "5"}


@dataclass
class Platform:
    """Production's shape: a Prefect server on PostgreSQL, `prefect deploy --all` of a
    rendered prefect.yaml, a process worker, the ledger and destination on PostgreSQL."""

    api_url: str
    db_url: str
    source: DemoSourceServer
    env: dict[str, str]  # for subprocesses: the Prefect server and the Jobs View settings
    home: Path
    pool: str
    _worker: ExitStack = field(default_factory=ExitStack)
    worker: Process | None = None

    @property
    def ledger(self) -> Ledger:
        return get_ledger(self.db_url)

    @property
    def destination(self) -> Destination:
        return get_destination(self.db_url)

    def start_worker(self) -> Process:
        """A process worker of the pool (again, after ``kill_worker``)."""
        self.worker = self._worker.enter_context(
            process_worker(self.env | WORKER_POLLING, self.pool, self.home / "worker.log")
        )
        return self.worker

    def kill_worker(self) -> None:
        """SIGKILL the worker alone: the flow runs it started live on, orphaned."""
        assert self.worker is not None
        os.kill(self.worker.pid, signal.SIGKILL)
        self.worker.wait(timeout=10)

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


@contextmanager
def production(home: Path, tenants: str, settings: dict[str, str], pool: str) -> Iterator[Platform]:
    """The platform, its deployments rendered from ``tenants`` (a tenants.toml) with the
    ``JOBSVIEW_*`` ``settings`` (also the worker's), as the README tells operators to."""
    with (
        postgres_database() as prefect_db,
        prefect_server(home / "prefect-home", prefect_db, home / "server.log") as api_url,
        postgres_schema() as db_url,
        DemoSourceServer(faults=DemoFaults(seed=7)) as source,
        temporary_settings(updates={PREFECT_API_URL: api_url}),
    ):
        env = base_env(home / "prefect-home", api_url) | settings
        env |= {"JOBSVIEW_DATABASE_URL": db_url, "JOBSVIEW_SOURCE_URL": source.url}
        tenants_file = home / "tenants.toml"
        tenants_file.write_text(tenants)
        prefect_file = home / "prefect.yaml"
        render = [command("jobsview"), "deployments", "render"]
        rendered = subprocess.run(
            [*render, "--config", str(tenants_file), "--output", str(prefect_file)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert rendered.returncode == 0, rendered.stderr
        assert "sync deployments and maintenance" in rendered.stdout
        prefect_cli(env, "work-pool", "create", pool, "--type", "process", "--overwrite")
        prefect_cli(env, "deploy", "--all", "--prefect-file", str(prefect_file), cwd=home)
        platform = Platform(api_url, db_url, source, env, home, pool)
        with platform._worker:
            platform.start_worker()
            yield platform
