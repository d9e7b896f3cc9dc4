"""Imports flow one way: the model, the plain task functions and the connectors know nothing of
Prefect, and nothing imports the views."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("package", ["core", "chunking", "connectors", "ledger", "tasks", "demo"])
def test_lower_layers_import_no_prefect(package: str) -> None:
    code = (
        f"import sys, {package}, pkgutil, importlib\n"
        f"for m in pkgutil.walk_packages({package}.__path__, '{package}.'):\n"
        "    if 'migrations' not in m.name:\n"
        "        importlib.import_module(m.name)\n"
        "found = sorted(m for m in sys.modules if m.split('.')[0] in ('prefect', 'views'))\n"
        "assert not found, found[:5]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_nothing_imports_the_views() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for folder in (
            "core",
            "chunking",
            "connectors",
            "demo",
            "ledger",
            "tasks",
            "flows",
            "deployments",
        )
        for path in (ROOT / folder).rglob("*.py")
        if "from views" in path.read_text() or "import views" in path.read_text()
    ]
    assert offenders == []


def test_the_chunk_task_loads_no_web_framework() -> None:
    """A chunk task runs in every worker: the demo source's FastAPI and uvicorn stay out of it."""
    code = (
        "import sys, flows.tasks, tasks.sync_chunk, connectors\n"
        "web = ('fastapi', 'uvicorn', 'demo')\n"
        "found = sorted(m for m in sys.modules if m.split('.')[0] in web)\n"
        "assert not found, found[:5]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
