"""Throwaway databases for tests: a SQLite file, or a fresh PostgreSQL schema."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from core.db import get_engine

PG_SERVER = os.environ.get(
    "JOBSVIEW_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def postgres_available() -> bool:
    try:
        engine = create_engine(PG_SERVER, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except OperationalError:
        return False


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL whose search_path is a new, empty schema; dropped afterwards."""
    if not postgres_available():
        if os.environ.get("JOBSVIEW_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required but not reachable at {PG_SERVER}")
        pytest.skip(f"PostgreSQL not reachable at {PG_SERVER}")
    schema = f"jv_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_SERVER, poolclass=NullPool)  # survives a server restart
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "postgresql":
        with postgres_schema() as url:
            yield url
    else:
        url = f"sqlite:///{tmp_path / 'jobsview.db'}"
        try:
            yield url
        finally:
            get_engine(url).dispose()


PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)


class PrivateCluster:
    """A PostgreSQL cluster of one test's own, for tests that stop or restart the server:
    the shared server at 127.0.0.1:5432 is never touched."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def _pg(self, tool: str, *args: str) -> None:
        assert PG_BIN is not None
        command = [str(PG_BIN / tool), *args]
        if os.geteuid() == 0:  # initdb and the server refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def _ctl(self, action: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        data = str(self.root / "data")
        self._pg("pg_ctl", "-D", data, "-o", options, "-l", str(self.root / "log"), "-w", action)

    def start(self) -> None:
        self._pg("initdb", "-D", str(self.root / "data"), "-A", "trust", "-U", "postgres")
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("restart")

    def stop(self) -> None:
        self._ctl("stop")


@contextmanager
def private_postgres() -> Iterator[PrivateCluster]:
    """A fresh cluster (initdb in a temporary folder, on a free port), removed afterwards."""
    if PG_BIN is None:
        pytest.skip("needs PostgreSQL's server binaries (initdb, pg_ctl)")
    root = Path(tempfile.mkdtemp(prefix="jv-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    cluster = PrivateCluster(root, port)
    try:
        cluster.start()
        yield cluster
    finally:
        try:
            get_engine(cluster.url).dispose()
            cluster._ctl("stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(root, ignore_errors=True)
