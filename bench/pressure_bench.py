"""API pressure and cancel latency, measured side by side in one run.

1. Requests per record for the same full sync with no faults and with 15% of
   requests answered 429 (Retry-After 0.2 s), and how much longer it took.
2. Cancel latency: from `request_cancel` to the job ending `cancelled`.

Usage: python bench/pressure_bench.py [--records 20000]
"""

from __future__ import annotations

import argparse
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


def timed_sync(base: str, tenant: str, rate_429: float, db: Path) -> dict[str, float]:
    from flows import sync_job, use_settings

    httpx.put(f"{base}/_demo/faults", json={"rate_429": rate_429, "retry_after": 0.2, "seed": 1})
    httpx.post(f"{base}/_demo/reset-stats")
    with use_settings(configure(db, base, page_size=100)):
        started = time.perf_counter()
        job = sync_job(tenant=tenant, sync_type="full", sync_size="large")
    elapsed = time.perf_counter() - started
    stats = httpx.get(f"{base}/_demo/stats").json()
    return {
        "records": job.records_synced,
        "requests": stats["total"],
        "requests_per_record": stats["total"] / job.records_synced,
        "seconds": elapsed,
    }


def cancel_latency(base: str, db: Path, rounds: int) -> list[float]:
    from flows import new_job_id, sync_job, use_settings
    from ledger.models import ChunkStatus, JobStatus
    from ledger.recovery import request_cancel
    from ledger.store import get_ledger

    httpx.put(f"{base}/_demo/faults", json={"slow_ms": 50})
    latencies = []
    for n in range(rounds):
        settings = configure(db.with_name(f"cancel-{n}.db"), base, page_size=20)
        ledger = get_ledger(settings.database_url)
        job_id = new_job_id()

        def run(settings: Settings = settings, job_id: str = job_id) -> None:
            with use_settings(settings):
                sync_job(
                    tenant="bench",
                    sync_type="full",
                    sync_size="small",
                    job_id=job_id,
                    return_state=True,
                )

        thread = threading.Thread(target=run)
        thread.start()
        while True:
            try:
                if ledger.get_job(job_id, with_chunks=False).counts[ChunkStatus.COMPLETED] >= 2:
                    break
            except Exception:
                pass
            time.sleep(0.05)
        asked = time.perf_counter()
        request_cancel(ledger, job_id)
        while ledger.get_job(job_id, with_chunks=False).status is not JobStatus.CANCELLED:
            time.sleep(0.02)
        latencies.append(time.perf_counter() - asked)
        thread.join()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--cancels", type=int, default=3)
    args = parser.parse_args()
    with bench_setup() as (base, tmp):
        bench_tenant = {"tenant": "bench", "counts": {"contacts": args.records}}
        httpx.post(f"{base}/_demo/tenants", json=bench_tenant)
        calm = timed_sync(base, "bench", 0.0, tmp / "calm.db")
        pressed = timed_sync(base, "bench", 0.15, tmp / "pressed.db")
        latencies = cancel_latency(base, tmp / "cancel.db", args.cancels)
    result = {
        "no_429": calm,
        "15pct_429": pressed,
        "requests_per_record_ratio": pressed["requests_per_record"] / calm["requests_per_record"],
        "slowdown": pressed["seconds"] / calm["seconds"],
        "cancel_latency_s": latencies,
    }
    save_result("pressure_bench", result)


if __name__ == "__main__":
    main()
