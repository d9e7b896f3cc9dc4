"""An in-process harness for the focused benchmarks (trust, pressure, scale, platform).

A demo source in its own process, a Prefect test server and a scratch folder; ``configure``
points this process's settings at a database and the source. The suite (``python -m bench``)
runs ``jobsview`` as its users do instead (``bench.services``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.services import free_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def start_source(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "views", "demo-source", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/_demo/stats")
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("demo source did not start")


def configure(db: Path, source: str, **extra: object) -> None:
    from core.settings import get_settings

    os.environ.update(
        JOBSVIEW_DATABASE_URL=f"sqlite:///{db}",
        JOBSVIEW_SOURCE_URL=source,
        JOBSVIEW_RESOURCES="contacts",
        **{f"JOBSVIEW_{k.upper()}": str(v) for k, v in extra.items()},
    )
    get_settings.cache_clear()


@contextmanager
def bench_setup() -> Iterator[tuple[str, Path]]:
    """A demo source in its own process, a Prefect server, and a scratch folder."""
    from prefect.testing.utilities import prefect_test_harness

    port = free_port()
    source = start_source(port)
    try:
        with tempfile.TemporaryDirectory() as tmp, prefect_test_harness(server_startup_timeout=120):
            yield f"http://127.0.0.1:{port}", Path(tmp)
    finally:
        source.terminate()
        source.wait()


def save_result(name: str, result: Mapping[str, Any]) -> None:
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2))
