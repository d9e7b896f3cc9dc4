"""What trust costs, measured side by side in one run.

1. Drift safety: full syncs of ``--records`` records from the demo source (its own process)
   into SQLite with JOBSVIEW_DRIFT_MARGIN=0 and with the default margin (one page), in
   alternating rounds, per Sync Size. Reported as records/s, their ratio, and requests and
   records read per record stored.
2. Cancel latency against a dripping source: a sync whose pages arrive 64 bytes every 500 ms
   is cancelled through the ledger; the time until the job is settled cancelled, beside the
   same against a quick source.
3. Memory against a huge record: the peak RSS of `jobsview run` (its own process) when one
   record is 150 MB, beside the same run without it.

Usage: python bench/trust_bench.py [--records 50000] [--rounds 2] [--cancels 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import bench_setup, configure, save_result  # noqa: E402

SIZES = ("small", "medium", "xlarge")


def full_sync(settings: Settings, tenant: str, size: str) -> tuple[float, int]:
    from flows import sync_job, use_settings

    started = time.perf_counter()
    with use_settings(settings):
        job = sync_job(tenant=tenant, sync_type="full", sync_size=size)
    return time.perf_counter() - started, job.records_synced


def drift_cost(base: str, records: int, rounds: int, workdir: Path) -> dict[str, object]:
    httpx.post(f"{base}/_demo/tenants", json={"tenant": "drift", "counts": {"contacts": records}})
    result: dict[str, object] = {"records": records}
    for size in SIZES:
        best: dict[str, float] = {}
        reads: dict[str, float] = {}
        for n in range(rounds):
            for margin in ("0", "page"):
                settings = configure(
                    workdir / f"drift-{size}-{margin}-{n}.db",
                    base,
                    page_size=100,
                    drift_margin=0 if margin == "0" else 100,
                )
                httpx.post(f"{base}/_demo/reset-stats")
                seconds, stored = full_sync(settings, "drift", size)
                assert stored == records, (stored, records)
                stats = httpx.get(f"{base}/_demo/stats").json()
                best[margin] = min(best.get(margin, float("inf")), seconds)
                reads[margin] = stats["total"] / records
        result[size] = {
            "records_per_s_margin_0": records / best["0"],
            "records_per_s_margin_page": records / best["page"],
            "throughput_ratio": best["0"] / best["page"],
            "requests_per_1000_records_margin_0": reads["0"] * 1000,
            "requests_per_1000_records_margin_page": reads["page"] * 1000,
        }
    return result


def cancel_latency(base: str, trials: int, workdir: Path) -> dict[str, object]:
    """From the cancel to the last running chunk stopped, and to the job settled."""
    from ledger.models import ChunkStatus, JobStatus
    from ledger.recovery import request_cancel
    from ledger.store import get_ledger

    httpx.post(f"{base}/_demo/tenants", json={"tenant": "drip", "counts": {"contacts": 5_000}})
    drip = {"chunk_bytes": 64, "interval_ms": 500}
    result: dict[str, object] = {"drip": drip, "chunks": 50, "concurrent": 2}
    quick: dict[str, object] = {"slow_ms": 200}  # slow enough to be cancelled mid-run
    for label, faults in (("quick_source", quick), ("dripping_source", {"drip": drip})):
        stopped, settled = [], []
        for n in range(trials):
            httpx.put(f"{base}/_demo/faults", json=faults)
            settings = configure(workdir / f"cancel-{label}-{n}.db", base, max_concurrent_chunks=2)
            ledger = get_ledger(settings.database_url)
            thread = threading.Thread(target=quietly, args=(settings, "drip", "small"), daemon=True)
            thread.start()
            while (
                not (jobs := ledger.list_jobs(tenant="drip"))
                or not jobs[0].counts[ChunkStatus.RUNNING]
            ):
                time.sleep(0.02)
            time.sleep(1)  # well into a page
            asked = time.perf_counter()
            request_cancel(ledger, jobs[0].id)
            while ledger.get_job(jobs[0].id, with_chunks=False).counts[ChunkStatus.RUNNING]:
                time.sleep(0.02)
            stopped.append(time.perf_counter() - asked)
            while ledger.get_job(jobs[0].id, with_chunks=False).status is not JobStatus.CANCELLED:
                time.sleep(0.02)
            settled.append(time.perf_counter() - asked)
            thread.join(60)
        result[label] = {
            "running_chunks_stopped_s": stopped,
            "job_settled_s": settled,
            "worst_stopped_s": max(stopped),
        }
    httpx.put(f"{base}/_demo/faults", json={})
    return result


def quietly(settings: Settings, tenant: str, size: str) -> None:
    from core.errors import JobEndedError

    with contextlib.suppress(JobEndedError):  # a cancelled job raises; that is the point
        full_sync(settings, tenant, size)


def peak_memory(base: str, workdir: Path, record_mb: int) -> dict[str, object]:
    httpx.post(f"{base}/_demo/tenants", json={"tenant": "huge", "counts": {"contacts": 2_000}})
    huge = {"resource": "contacts", "offset": 1_000, "bytes": record_mb * 1_000_000}
    result: dict[str, object] = {"record_mb": record_mb}
    for label, faults in (("without", {}), ("with_huge_record", {"huge_record": huge})):
        httpx.put(f"{base}/_demo/faults", json=faults)
        env = {
            **os.environ,
            "JOBSVIEW_DATABASE_URL": f"sqlite:///{workdir / f'mem-{label}.db'}",
            "JOBSVIEW_SOURCE_URL": base,
            "JOBSVIEW_RESOURCES": "contacts",
            "JOBSVIEW_CHUNK_RETRIES": "0",
        }
        # The run in a child of its own, which reports its own peak (the temporary Prefect
        # server it starts is another process, not counted).
        code = (
            "import atexit, resource, runpy, sys; "
            "atexit.register(lambda: print('peak', "
            "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)); "
            "sys.argv = ['jobsview', 'run', '--tenant', 'huge', '--type', 'full', '--json']; "
            "runpy.run_module('views', run_name='__main__')"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
        )
        peak_kb = out.stderr.rsplit("peak ", 1)[-1].split()[0]
        exit_code = out.returncode
        result[label] = {"exit_code": int(exit_code), "peak_rss_mb": int(peak_kb) / 1024}
    httpx.put(f"{base}/_demo/faults", json={})
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cancels", type=int, default=3)
    args = parser.parse_args()
    with bench_setup() as (base, tmp):
        result = {
            "drift_safety": drift_cost(base, args.records, args.rounds, tmp),
            "cancel": cancel_latency(base, args.cancels, tmp),
            "memory": peak_memory(base, tmp, 150),
        }
    save_result("trust_bench", result)


if __name__ == "__main__":
    main()
