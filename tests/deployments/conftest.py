"""Production-shaped fixtures: a real `prefect server start` on PostgreSQL, `prefect deploy`
of rendered deployments, and a process worker; the ledger and destination on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from demo.faults import DemoFaults
from tests.platform import Platform, production

POOL = "jobsview-test"
# Schedules that never fire during a test (February 29th): runs start by hand, or by a schedule
# a test adds; an hourly partial would start every tenant's job at the top of the hour.
TENANTS = """
[defaults]
timezone = "UTC"
partial = "0 * 29 2 *"
full = "30 2 29 2 *"
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


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with production(tmp_path_factory.mktemp("platform"), TENANTS, JOB_SETTINGS, POOL) as found:
        yield found


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
