"""Fixtures for the web Jobs View: a launcher that records instead of starting processes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from chunking import plan_chunks
from core.settings import Settings
from ledger.models import ChunkStatus, Job, JobStatus
from ledger.store import Ledger
from tests.support import SyncEnv
from views.web import create_app
from views.web.launcher import Launcher


class FakeLauncher(Launcher):
    """The unit seam: remembers what it was asked to launch, and launches nothing."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.launched: list[list[str]] = []

    def start(self, job: Job, ledger: Ledger) -> None:
        self.run(job, ledger)  # at once: the tests read what was launched

    def hand_off(self, job: Job) -> str | None:
        return None

    def launch(self, args: list[str]) -> None:
        self.launched.append(list(args))

    def prefect_api_url(self) -> str:  # never start a Prefect server from these tests
        raise AssertionError("the fake launcher starts nothing")


@pytest.fixture(autouse=True)
def _prefect() -> None:
    """Overrides tests/views' autouse Prefect server: the web tests ask for it when they need it."""


@pytest.fixture
def launcher(sync_env: SyncEnv) -> FakeLauncher:
    return FakeLauncher(sync_env.settings)


def make_app(settings: Settings, launcher: Launcher | None = None) -> FastAPI:
    """The app with ``settings``, launching nothing unless given a launcher, no reconcile."""
    return create_app(settings, launcher or FakeLauncher(settings), reconcile_in_background=False)


@pytest.fixture
def app(sync_env: SyncEnv, launcher: FakeLauncher) -> FastAPI:
    """The app with the test's settings as they are now: a test that changes them after
    builds its own with ``web_client``."""
    return make_app(sync_env.settings, launcher)


# The web answers only loopback names (and JOBSVIEW_ALLOWED_HOSTS), not TestClient's "testserver".
BASE_URL = "http://127.0.0.1"


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL) as test_client:
        yield test_client


@contextmanager
def web_client(sync_env: SyncEnv, launcher: FakeLauncher | None = None) -> Iterator[TestClient]:
    """A client of a new app, with the test's settings as they are now."""
    with TestClient(make_app(sync_env.settings, launcher), base_url=BASE_URL) as test_client:
        yield test_client


def csrf(client: TestClient) -> str:
    """The CSRF token the pages give this client, as a browser would read it from a form
    (the page also sets the cookie it is bound to)."""
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', client.get("/settings").text)
    assert found, "no CSRF token in the settings page's forms"
    return found.group(1)


def finished_job(
    ledger: Ledger,
    status: JobStatus,
    *,
    tenant: str = "acme",
    sync_type: str = "full",
    completed: int = 2,
    failed: int = 1,
    pending: int = 0,
    error: str | None = None,
    job_id: str | None = None,
) -> Job:
    """A job as a run would have left it: chunks planned, some done, the job ended."""
    total = completed + failed + pending
    job = ledger.create_job(
        job_id=job_id or str(uuid.uuid4()),
        tenant=tenant,
        sync_type=sync_type,
        sync_size="small",
        chunk_size=100,
        resources=("contacts",),
    )
    ledger.add_chunks(job.id, plan_chunks([("contacts", total * 100)], 100), {})
    ledger.mark_running(job.id, ran_as_full=True)
    for index in range(1, completed + 1):
        ledger.chunk_started(job.id, index, "test:1")
        ledger.chunk_completed(job.id, index, 100)
    for index in range(completed + 1, completed + failed + 1):
        ledger.chunk_started(job.id, index, "test:1")
        ledger.chunk_error(job.id, index, error or "boom")
        ledger.settle_chunk(job.id, index, ChunkStatus.FAILED, error or "boom")
    if status.finished:
        return ledger.finish_job(job.id, status, error=error)
    return ledger.get_job(job.id)


def api_writes(job_id: str, done_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every write of the JSON API: (method, path, body)."""
    return [
        ("POST", "/api/jobs", {"tenant": "globex", "sync_type": "full"}),
        ("POST", f"/api/jobs/{job_id}/cancel", {}),
        ("POST", f"/api/jobs/{done_id}/resume", {}),
        ("PUT", "/api/settings/tenants/acme", {"sync_size": "large"}),
        ("PUT", "/api/settings/default", {"sync_size": "small"}),
    ]


def form_writes(job_id: str, done_id: str) -> list[tuple[str, dict[str, str]]]:
    """Every form post of the pages: (path, fields)."""
    return [
        ("/jobs", {"tenant": "globex", "sync_type": "full", "sync_size": ""}),
        (f"/jobs/{job_id}/cancel", {}),
        (f"/jobs/{done_id}/resume", {}),
        ("/settings", {"tenant": "acme", "sync_size": "large"}),
        ("/settings", {"tenant": "*", "sync_size": "small"}),
        ("/settings/forget", {"tenant": "nobody"}),
    ]
