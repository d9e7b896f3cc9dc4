"""``jobsview serve`` keeps its background jobs' log beside the run logs, and says where."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import views.logs
import views.prefect_setup
from tests.support import SyncEnv
from tests.views.conftest import Cli


def test_serve_logs_under_the_prefect_home_and_prints_where(
    sync_env: SyncEnv,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    _run_logs: Path,
) -> None:
    import uvicorn

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    monkeypatch.setattr(views.prefect_setup, "configured_api", lambda: True)
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    monkeypatch.chdir(workdir)

    code, _, err = cli("serve", "--port", "8099")
    assert code == 0, err
    expected = _run_logs.parent / "jobsview-jobs.log"
    assert served["app"].state.launcher.log_file == expected
    # the app and its background jobs run with the settings the command read
    assert (
        served["app"].state.settings == served["app"].state.launcher.settings == sync_env.settings
    )
    assert f"background jobs log to {expected}" in " ".join(err.split())
    assert expected.parent.is_dir() and workdir not in expected.parents
    assert views.logs.serve_log_file() == expected
