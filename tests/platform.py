"""Production-shaped Prefect for tests and benchmarks: a real `prefect server start` whose
database is a fresh PostgreSQL database, a process work pool and its worker, `prefect deploy`.
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
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.databases import PG_SERVER

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
