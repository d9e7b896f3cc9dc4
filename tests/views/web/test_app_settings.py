"""The web runs with the settings it was created with: its pages and API, and the background
``jobsview`` processes it starts, never read the server's own ``JOBSVIEW_*`` environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.redact import redact_url
from ledger.models import Job, JobStatus
from ledger.store import Ledger
from tests.support import SyncEnv
from tests.views.web.conftest import BASE_URL, FakeLauncher, finished_job, make_app
from views.web import Launcher, create_app

TOKEN = "web-s3cret-token-value"
PREFECT_API = "http://127.0.0.1:1/api"


def stray_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """``JOBSVIEW_*`` variables in the server's environment that its settings do not hold."""
    stray = {
        "JOBSVIEW_DATABASE_URL": f"sqlite:///{tmp_path / 'stray.db'}",
        "JOBSVIEW_DESTINATION_URL": f"sqlite:///{tmp_path / 'stray-destination.db'}",
        "JOBSVIEW_SYNC_SIZE": "xlarge",
        "JOBSVIEW_PAGE_SIZE": "7",
    }
    for name, value in stray.items():
        monkeypatch.setenv(name, value)
    return stray


class InlineLauncher(Launcher):
    """The real launch, at once and never handed to a deployment."""

    def start(self, job: Job, ledger: Ledger) -> None:
        self.run(job, ledger)

    def hand_off(self, job: Job) -> str | None:
        return None


def test_background_jobs_run_with_the_apps_settings(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sync_env.set(source_token="source-s3cret", page_size=20, sync_size="small")
    settings = sync_env.settings  # read before the stray variables are set
    stray = stray_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API)
    monkeypatch.setenv("JOBSVIEW_TEST_OTHER_VARIABLE", "x")  # not a setting, still dropped
    monkeypatch.setenv("OTHER_VARIABLE", "kept")

    started: list[tuple[list[str], dict[str, Any]]] = []

    class Child:
        pid = 4242

        def __init__(self, args: list[str], **options: Any) -> None:
            started.append((list(args), options))

        def poll(self) -> int | None:
            return None

    monkeypatch.setattr(subprocess, "Popen", Child)
    with TestClient(make_app(settings, InlineLauncher(settings)), base_url=BASE_URL) as web:
        job = web.post("/api/jobs", json={"tenant": "acme", "sync_type": "full"})
        assert job.status_code == 202, job.text
        assert job.json()["sync_size"] == "small"  # the app's, not JOBSVIEW_SYNC_SIZE
        done = finished_job(sync_env.ledger, JobStatus.INCOMPLETE, tenant="globex")
        resumed = web.post(f"/api/jobs/{done.id}/resume", json={})
        assert resumed.status_code == 202, resumed.text

    assert [args[3:5] for args, _ in started] == [["run", "--tenant"], ["resume", done.id]]
    for args, options in started:
        assert args[:3] == [sys.executable, "-m", "views"]
        env = options["env"]
        assert {k: v for k, v in env.items() if k.startswith("JOBSVIEW_")} == (
            settings.environment()
        )
        assert env["JOBSVIEW_DATABASE_URL"] == sync_env.db_url != stray["JOBSVIEW_DATABASE_URL"]
        assert env["JOBSVIEW_SOURCE_URL"].rstrip("/") == sync_env.source.url.rstrip("/")
        assert env["JOBSVIEW_SOURCE_TOKEN"] == "source-s3cret"  # the child reads the source
        assert env["JOBSVIEW_PAGE_SIZE"] == "20" and env["JOBSVIEW_SYNC_SIZE"] == "small"
        assert "JOBSVIEW_DESTINATION_URL" not in env  # unset in the app's settings
        assert "JOBSVIEW_TEST_OTHER_VARIABLE" not in env
        assert env["PREFECT_API_URL"] == PREFECT_API and env["OTHER_VARIABLE"] == "kept"
    assert not (tmp_path / "stray.db").exists()


def test_the_app_serves_with_the_settings_it_was_given(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sync_env.set(api_token=TOKEN, sync_size="small")
    settings = sync_env.settings
    stray_environment(monkeypatch, tmp_path)
    assert create_app(settings).state.launcher.settings is settings  # the default launcher too

    ledger = sync_env.ledger
    done = finished_job(ledger, JobStatus.COMPLETED, failed=0)
    launcher = FakeLauncher(settings)
    with TestClient(make_app(settings, launcher), base_url=BASE_URL) as web:
        shown = web.get("/api/settings").json()
        public = shown["settings"]
        assert public["JOBSVIEW_DATABASE_URL"] == redact_url(sync_env.db_url)
        assert public["JOBSVIEW_API_TOKEN"] == "********"
        assert public["JOBSVIEW_DESTINATION_URL"] is None
        assert public["JOBSVIEW_SYNC_SIZE"] == "small" and public["JOBSVIEW_PAGE_SIZE"] == 100
        assert shown["default_sync_size"] == "small"
        assert [j["id"] for j in web.get("/api/jobs").json()] == [done.id]  # the app's ledger

        body = {"tenant": "globex", "sync_type": "full"}
        assert web.post("/api/jobs", json=body).status_code == 401  # the app's token
        auth = {"Authorization": f"Bearer {TOKEN}"}
        started = web.post("/api/jobs", json=body, headers=auth)
        assert started.status_code == 202, started.text
        assert started.json()["chunk_size"] == 100  # Sync Size small: the app's default
    assert ledger.get_job(started.json()["id"]).status is JobStatus.QUEUED
    assert len(launcher.launched) == 1
    assert not (tmp_path / "stray.db").exists()
