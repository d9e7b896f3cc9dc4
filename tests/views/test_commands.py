"""The installed ``jobsview`` command, as an operator runs it: real processes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def jobsview() -> list[str]:
    found = shutil.which("jobsview", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "views"]


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBSVIEW_", "PREFECT_"))}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    return env


def test_demo_runs_on_the_embedded_defaults(tmp_path: Path) -> None:
    """The quickstart: nothing running beforehand, a temporary Prefect server, SQLite."""
    started = time.monotonic()
    result = subprocess.run(
        [*jobsview(), "demo", "--json"],
        cwd=tmp_path,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    job = json.loads(result.stdout)
    assert job["status"] == "completed" and job["records_synced"] == 3_700
    assert job["tenant"] == "acme" and job["chunk_size"] == 500
    assert (tmp_path / "jobsview.db").exists()
    assert elapsed < 60

    shown = subprocess.run(
        [*jobsview(), "show", job["id"][:8]],
        cwd=tmp_path,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0 and "|- Chunk 8 [completed]" in shown.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_source_command_serves_the_contract(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [*jobsview(), "demo-source", "--port", str(port), "--token", "tok", "--page-cap", "7"],
        env=clean_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}/tenants/acme/contacts"
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(
                    url, params={"offset": 0, "limit": 50}, headers={"Authorization": "Bearer tok"}
                )
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("jobsview demo-source did not start")
                time.sleep(0.2)
        assert response.status_code == 200
        body = response.json()
        assert body["total"] == 2_500 and len(body["items"]) == 7
        assert httpx.get(url).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)
