"""What every benchmark stands on: the demo source, a Prefect server and scratch databases, each
in a process of its own, and ``jobsview`` run as its users run it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get(
    "JOBSVIEW_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, proc: subprocess.Popen[bytes], what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer {url} within {seconds:g}s")


@contextmanager
def process(args: list[str], url: str, what: str, env: dict[str, str]) -> Iterator[None]:
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_for(url, proc, what)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def demo_source(page_cap: int | None = 100) -> Iterator[str]:
    """The demo source API on loopback, serving at most ``page_cap`` items a page (if set)."""
    port = free_port()
    args = [str(BIN / "jobsview"), "demo-source", "--port", str(port)]
    if page_cap is not None:
        args += ["--page-cap", str(page_cap)]
    with process(args, f"http://127.0.0.1:{port}/_demo/tenants", "demo source", dict(os.environ)):
        yield f"http://127.0.0.1:{port}"


def add_tenant(base: str, tenant: str, records: int, resource: str = "contacts") -> None:
    httpx.post(
        f"{base}/_demo/tenants", json={"tenant": tenant, "counts": {resource: records}}
    ).raise_for_status()


@contextmanager
def prefect_server(home: Path) -> Iterator[str]:
    """A long-lived ``prefect server start`` of its own, as an operator runs one."""
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    args = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with process(args, f"http://127.0.0.1:{port}/api/health", "prefect server", env):
        yield f"http://127.0.0.1:{port}/api"


@contextmanager
def scratch_postgres(server: str = PG_ADMIN) -> Iterator[str]:
    """A fresh database in the server at ``server`` (a URL), dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from core.db import get_engine

    name = f"jobsview_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        get_engine(url).dispose()  # the product's pooled connections, if it opened any
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postgres_reachable() -> bool:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    engine = create_engine(PG_ADMIN, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return True
    except OperationalError:
        return False
    finally:
        engine.dispose()


@contextmanager
def scratch_sqlite() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="jobsview-bench-") as tmp:
        yield f"sqlite:///{tmp}/bench.db"


@contextmanager
def database(backend: str) -> Iterator[str]:
    with scratch_postgres() if backend == "postgresql" else scratch_sqlite() as url:
        yield url


@dataclass(frozen=True)
class Run:
    """One ``jobsview`` process: its wall time, its peak RSS and its ``--json`` document."""

    seconds: float
    peak_rss_mb: float
    started_at: float  # wall clock, for measures against the ledger's timestamps
    document: Any


def jobsview(args: list[str], env: dict[str, str]) -> Run:
    """Run ``jobsview args --json`` as a user does; raise with its output if it fails."""
    started_at = time.time()
    began = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [str(BIN / "jobsview"), *args, "--json"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
        )
        assert proc.stdout is not None
        out = proc.stdout.read()
        # wait4 gives this child's own peak RSS (getrusage would give the largest child's).
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - began
        if proc.returncode:
            err.seek(0)
            raise RuntimeError(f"jobsview {' '.join(args)} failed: {err.read().decode()[-2000:]}")
    rss = usage.ru_maxrss / 1024
    return Run(seconds, rss, started_at, json.loads(out))


def env_for(database_url: str, source: str, api_url: str | None, home: Path) -> dict[str, str]:
    """The environment of a ``jobsview`` process: a database, a source, a Prefect API or the
    embedded default (no ``PREFECT_API_URL``) with its own home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBSVIEW_", "PREFECT_API"))}
    env.update(
        JOBSVIEW_DATABASE_URL=database_url,
        JOBSVIEW_SOURCE_URL=source,
        JOBSVIEW_RESOURCES="contacts",
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env
