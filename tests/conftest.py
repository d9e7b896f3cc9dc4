"""Shared fixtures: databases on SQLite and PostgreSQL, and a clean environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import database

KEEP_ENV = {
    "JOBSVIEW_TEST_POSTGRES",
    "JOBSVIEW_REQUIRE_POSTGRES",
    "JOBSVIEW_REQUIRE_CHROMIUM",
    "JOBSVIEW_SCREENSHOTS",
}


@pytest.fixture(autouse=True)
def _clean_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test starts from the defaults, in its own working directory (no stray .env)."""
    for name in list(os.environ):
        if name.startswith("JOBSVIEW_") and name not in KEEP_ENV:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: every test using it runs on SQLite and on PostgreSQL."""
    with database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One Prefect server for the whole session, shared by every flow run in it."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


pytest_plugins = ["tests.support"]
