import os
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL

import views.logs
from tests.support import SyncEnv


@pytest.fixture(autouse=True)
def _prefect(prefect_server: None) -> None:
    """CLI runs talk to the session's Prefect server."""


@pytest.fixture(autouse=True)
def _run_logs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Runs in this process write their log files under the test's directory."""
    directory = tmp_path / "run-logs"
    monkeypatch.setattr(views.logs, "log_dir", lambda: directory)
    return directory


@pytest.fixture
def cli_env(sync_env: SyncEnv, tmp_path: Path) -> dict[str, str]:
    """Subprocess environment: the test's settings and the session's Prefect server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= sync_env.environment()
    env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    return env
