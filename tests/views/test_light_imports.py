"""Read commands answer fast: they never import Prefect, the web stack, or alembic on a ledger
that is already up to date (each costs a read command a tenth of a second or more)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.store import get_ledger
from tests.factories import queued_job

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["prefect", "fastapi", "starlette", "uvicorn", "alembic", "jinja2", "httpx"]

RUN_READS = """
import json, sys
from typer.testing import CliRunner
from views.cli import app

job = sys.argv[1]
for args in (["jobs"], ["jobs", "--json"], ["show", job], ["show", job, "--json"],
             ["settings", "show"], ["settings", "show", "--json"]):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (args, result.output)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


@pytest.fixture(autouse=True)
def _prefect() -> None:
    """No Prefect server: these commands must not need one."""


def test_read_commands_import_nothing_heavy(db_url: str) -> None:
    job = queued_job(get_ledger(db_url))  # also brings the schema up to date
    env = {**os.environ, "JOBSVIEW_DATABASE_URL": db_url}
    done = subprocess.run(
        [sys.executable, "-c", RUN_READS, job.id],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert "views" in loaded and "sqlalchemy" in loaded  # it did run the commands
    assert sorted(loaded & set(HEAVY)) == []
