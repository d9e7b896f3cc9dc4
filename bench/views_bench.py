"""Read-side latency on a large ledger: the web Jobs View's polled pages and API, and the CLI.

Seeds 10,000 jobs and 1,000,000 chunks (one running job with 10,000 of them) into a temporary
SQLite file and into a scratch PostgreSQL database (created, then dropped), then measures:

- p50/p95 over 50 sequential requests to a real uvicorn server on loopback, in this process:
  the jobs list (API, page, polled fragment), and the 10,000-chunk job (API, page, fragment);
- the wall time (median of 5) of ``jobsview jobs``, ``jobsview show``, ``jobsview settings show``
  as subprocesses, on a typical job.

``run(quick=True)`` seeds 1,000 jobs and 50,000 chunks and makes fewer requests: a smoke test.

Usage: python bench/views_bench.py [--quick] [--json]
PostgreSQL: JOBSVIEW_BENCH_POSTGRES (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres);
skipped when unreachable.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.services import BIN, database, free_port, postgres_reachable  # noqa: E402
from bench.views_seed import Seeded, seed  # noqa: E402

LIST_MS, JOB_MS, CLI_S = 50.0, 100.0, 0.3
FULL = {"jobs_count": 10_000, "chunks": 1_000_000, "big": 10_000}
QUICK = {"jobs_count": 1_000, "chunks": 50_000, "big": 5_000}


def result(measure: str, backend: str, value: float, unit: str, target: float) -> dict[str, Any]:
    return {
        "measure": measure,
        "backend": backend,
        "value": round(value, 4 if unit == "s" else 2),
        "unit": unit,
        "target": target,
        "met": value <= target,
    }


@contextmanager
def web_server(url: str) -> Iterator[str]:
    """The web app on a real uvicorn server on loopback, in a thread of this process."""
    import uvicorn

    from core.settings import load_settings
    from views.web import create_app

    port = free_port()
    config = uvicorn.Config(
        create_app(load_settings(database_url=url), reconcile_in_background=False),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _latencies(client: Any, path: str, requests: int) -> list[float]:
    for _ in range(3):  # warm: connection, caches, first template compile
        client.get(path).raise_for_status()
    took = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        took.append((time.perf_counter() - started) * 1000)
    return took


def measure_web(seeded: Seeded, backend: str, requests: int) -> list[dict[str, Any]]:
    import httpx

    big = seeded.big_job
    paths = [
        ("GET /api/jobs?limit=50", "/api/jobs?limit=50", LIST_MS),
        ("GET /", "/", LIST_MS),
        ("GET /fragments/jobs", "/fragments/jobs", LIST_MS),
        ("GET /api/jobs/{id} (10k chunks)", f"/api/jobs/{big}", JOB_MS),
        ("GET /jobs/{id} (10k chunks)", f"/jobs/{big}", JOB_MS),
        ("GET /fragments/jobs/{id} (10k chunks)", f"/fragments/jobs/{big}", JOB_MS),
    ]
    found = []
    with web_server(seeded.url) as base, httpx.Client(base_url=base, timeout=60) as client:
        for name, path, target in paths:
            took = sorted(_latencies(client, path, requests))
            p95 = took[min(len(took) - 1, round(len(took) * 0.95) - 1)]
            found.append(result(f"{name} p50", backend, statistics.median(took), "ms", target))
            found.append(result(f"{name} p95", backend, p95, "ms", target))
    return found


def measure_cli(seeded: Seeded, backend: str, workdir: Path, runs: int) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBSVIEW_")}
    env["JOBSVIEW_DATABASE_URL"] = seeded.url
    found = []
    for args in (["jobs"], ["show", seeded.typical_job], ["settings", "show"]):
        walls = []
        for _ in range(runs + 1):  # the first run warms the OS caches
            started = time.perf_counter()
            subprocess.run(
                [str(BIN / "jobsview"), *args],
                cwd=workdir,
                env=env,
                check=True,
                capture_output=True,
            )
            walls.append(time.perf_counter() - started)
        name = f"jobsview {' '.join(args[:1] if args[0] == 'show' else args)}"
        found.append(result(name, backend, statistics.median(walls[1:]), "s", CLI_S))
    return found


def run(quick: bool = False) -> list[dict[str, Any]]:
    sizes = QUICK if quick else FULL
    requests, runs = (10, 2) if quick else (50, 5)
    backends = ["sqlite"] + (["postgresql"] if postgres_reachable() else [])
    found: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="views-bench-") as tmp:
        for backend in backends:
            with database(backend) as url:
                started = time.perf_counter()
                seeded = seed(url, **sizes)
                print(
                    f"{backend}: seeded {seeded.jobs:,} jobs, {seeded.chunks:,} chunks "
                    f"in {time.perf_counter() - started:.1f}s",
                    file=sys.stderr,
                )
                found += measure_web(seeded, backend, requests)
                found += measure_cli(seeded, backend, Path(tmp), runs)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small seed: a smoke test")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    found = run(quick=args.quick)
    if args.json:
        print(json.dumps(found, indent=2))
        return
    for r in found:
        mark = "ok " if r["met"] else "MISS"
        print(
            f"{mark} {r['backend']:<10} {r['measure']:<42} {r['value']:>9} {r['unit']:<2} "
            f"(target {r['target']})"
        )


if __name__ == "__main__":
    main()
