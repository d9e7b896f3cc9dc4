import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL
from typer.testing import CliRunner

import views.logs
from tests.support import SyncEnv
from views.cli import app

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def _prefect(prefect_server: None) -> None:
    """CLI runs talk to the session's Prefect server."""


@pytest.fixture(autouse=True)
def _run_logs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Runs in this process write their log files under the test's directory."""
    directory = tmp_path / "run-logs"
    monkeypatch.setattr(views.logs, "log_dir", lambda: directory)
    return directory


def invoke(args: Sequence[str], env: Mapping[str, str | None]) -> tuple[int, str, str]:
    """``jobsview ARGS`` in this process, with ``env`` as its environment's ``JOBSVIEW_*``
    variables (the CLI's interface to its settings): exit code, stdout, stderr."""
    result = CliRunner().invoke(app, list(args), env=dict(env))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def cli(sync_env: SyncEnv) -> Cli:
    """``cli(*args, env=None)``: ``jobsview ARGS`` in this process, with the test's settings
    as they are at the call (and ``env`` on top, e.g. a bad value the CLI must report)."""

    def run(*args: str, env: Mapping[str, str | None] | None = None) -> tuple[int, str, str]:
        return invoke(args, sync_env.environment() | dict(env or {}))

    return run


@pytest.fixture
def cli_env(sync_env: SyncEnv, tmp_path: Path) -> dict[str, str]:
    """Subprocess environment: the test's settings and the session's Prefect server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= sync_env.environment()
    env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    return env
