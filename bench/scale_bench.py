"""Scale-out: one full sync on threads against the same sync on two Dask workers, side by side.

Both read ``--records`` records from the demo source (served by a separate process) through the
real flow into SQLite: once with the default thread pool (``JOBSVIEW_MAX_CONCURRENT_CHUNKS``
threads in this process), once on a local ``dask scheduler`` with two ``dask worker`` processes
of ``--nthreads`` threads each (``JOBSVIEW_TASK_RUNNER=dask``). Reported as records/s and their
ratio.

Usage: python bench/scale_bench.py [--records 200000] [--sync-size xlarge] [--nthreads 2]
                                   [--concurrency 4] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import bench_setup, configure, save_result  # noqa: E402
from bench.services import free_port  # noqa: E402


@contextmanager
def dask_cluster(workdir: Path, workers: int, nthreads: int) -> Iterator[str]:
    """A scheduler and ``workers`` worker processes on loopback that report to this process's
    Prefect server; the chunk tasks bring their settings."""
    from distributed import Client
    from prefect.settings import PREFECT_API_URL

    dask = Path(sys.executable).with_name("dask")
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "PYTHONPATH": str(ROOT)}
    address = f"tcp://127.0.0.1:{free_port()}"
    commands = [["scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1]]]
    worker = ["worker", address, "--nthreads", str(nthreads), "--no-nanny", "--memory-limit", "0"]
    commands += [[*worker, "--host", "127.0.0.1", "--local-directory", str(workdir)]] * workers
    with ExitStack() as stack:
        for args in commands:
            proc = subprocess.Popen(
                [str(dask), *args, "--no-dashboard"],
                cwd=workdir,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            stack.callback(proc.wait)
            stack.callback(proc.terminate)
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=120)
        yield address


def timed_sync(settings: Settings, tenant: str, rounds: int) -> dict[str, Any]:
    """The best of ``rounds`` full syncs, after a small one that warms up every worker thread."""
    from flows import sync_job, use_settings

    runs = []
    with use_settings(settings):
        sync_job(tenant="warmup", sync_type="full", sync_size="small")  # imports, connections
        for _ in range(rounds):
            started = time.perf_counter()
            job = sync_job(tenant=tenant, sync_type="full")
            runs.append((time.perf_counter() - started, job))
    seconds, job = min(runs, key=lambda run: run[0])
    return {
        "records": job.records_synced,
        "chunks": job.total_chunks,
        "workers": len({c.worker for c in job.chunks or ()}),
        "seconds": seconds,
        "records_per_s": job.records_synced / seconds,
        "all_seconds": [run[0] for run in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--sync-size", default="xlarge")
    parser.add_argument("--concurrency", type=int, default=4, help="chunks in flight, both runs")
    parser.add_argument("--nthreads", type=int, default=2, help="threads per Dask worker")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    settings = {"sync_size": args.sync_size, "page_size": 100}
    settings["max_concurrent_chunks"] = args.concurrency
    with bench_setup() as (base, tmp):
        counts = {"contacts": args.records}
        httpx.post(f"{base}/_demo/tenants", json={"tenant": "bench", "counts": counts})
        warmup = {"tenant": "warmup", "counts": {"contacts": 8 * 100}}
        httpx.post(f"{base}/_demo/tenants", json=warmup)
        threads = timed_sync(configure(tmp / "threads.db", base, **settings), "bench", args.rounds)
        with dask_cluster(tmp, workers=2, nthreads=args.nthreads) as address:
            on_dask = configure(
                tmp / "dask.db", base, task_runner="dask", dask_address=address, **settings
            )
            dask = timed_sync(on_dask, "bench", args.rounds)
    result = {
        "records": args.records,
        "sync_size": args.sync_size,
        "threads": {"runner": f"threads ({args.concurrency})", **threads},
        "dask": {"runner": f"dask (2 workers x {args.nthreads} threads)", **dask},
        "dask_over_threads": float(dask["records_per_s"]) / float(threads["records_per_s"]),
    }
    print(f"\n{'runner':<34}{'records':>9}{'chunks':>8}{'workers':>9}{'seconds':>9}{'rec/s':>9}")
    for row in (result["threads"], result["dask"]):
        assert isinstance(row, dict)
        print(
            f"{row['runner']:<34}{row['records']:>9}{row['chunks']:>8}{row['workers']:>9}"
            f"{row['seconds']:>9.1f}{row['records_per_s']:>9.0f}"
        )
    print(f"dask / threads: {result['dask_over_threads']:.2f}\n")
    save_result("scale_bench", result)


if __name__ == "__main__":
    main()
