"""Benchmarks for the core sync, measured side by side in one run.

1. Throughput: a full sync of ``--records`` records from the demo source (served by
   a separate process) through the real flow into SQLite, beside a plain httpx
   loop reading the same pages. Reported as records/s and their ratio.
2. Prefect overhead per chunk: the same small chunks run as Prefect tasks inside
   the flow, and as plain ``run_chunk`` calls, one at a time; the difference per
   chunk, after taking off the flow's fixed cost (a run with no chunks).

Usage: python bench/sync_bench.py [--records 100000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def plain_loop(base: str, tenant: str, resource: str, page_size: int) -> int:
    """The baseline: read every page with httpx, as simply as possible."""
    seen = 0
    with httpx.Client(base_url=base) as client:
        offset = 0
        while True:
            body = client.get(
                f"/tenants/{tenant}/{resource}", params={"offset": offset, "limit": page_size}
            ).json()
            if not body["items"]:
                return seen
            seen += len(body["items"])
            offset += len(body["items"])


def configure(db: Path, source: str, **extra: object) -> None:
    from core.settings import get_settings

    os.environ.update(
        JOBSVIEW_DATABASE_URL=f"sqlite:///{db}",
        JOBSVIEW_SOURCE_URL=source,
        JOBSVIEW_RESOURCES="contacts",
        **{f"JOBSVIEW_{k.upper()}": str(v) for k, v in extra.items()},
    )
    get_settings.cache_clear()


def throughput(base: str, records: int, rounds: int, workdir: Path) -> dict[str, object]:
    from flows import sync_job

    httpx.post(f"{base}/_demo/tenants", json={"tenant": "bench", "counts": {"contacts": records}})
    rows = []
    for n in range(rounds):
        started = time.perf_counter()
        assert plain_loop(base, "bench", "contacts", 100) == records
        plain = time.perf_counter() - started

        configure(workdir / f"tp-{n}.db", base, sync_size="xlarge", page_size=100)
        started = time.perf_counter()
        job = sync_job(tenant="bench", sync_type="full")
        flow = time.perf_counter() - started
        assert job.records_synced == records
        rows.append({"plain_s": plain, "flow_s": flow})
    best_plain = min(r["plain_s"] for r in rows)
    best_flow = min(r["flow_s"] for r in rows)
    return {
        "records": records,
        "rounds": rows,
        "plain_records_per_s": records / best_plain,
        "flow_records_per_s": records / best_flow,
        "flow_over_plain": best_plain / best_flow,
    }


def overhead(base: str, chunks: int, workdir: Path) -> dict[str, object]:
    from chunking import SyncSize
    from connectors.destination import get_destination
    from connectors.source import RestSource
    from core.settings import get_settings
    from core.validation import SyncType
    from flows import sync_job
    from ledger.store import get_ledger
    from tasks.plan_job import plan
    from tasks.sync_chunk import run_chunk

    size = SyncSize.SMALL.chunk_size
    httpx.post(
        f"{base}/_demo/tenants", json={"tenant": "chunky", "counts": {"contacts": chunks * size}}
    )

    httpx.post(f"{base}/_demo/tenants", json={"tenant": "empty", "counts": {"contacts": 0}})
    configure(workdir / "oh-flow.db", base, max_concurrent_chunks=1, page_size=size)
    started = time.perf_counter()
    assert sync_job(tenant="empty", sync_type="full").total_chunks == 0
    fixed_s = time.perf_counter() - started
    started = time.perf_counter()
    job = sync_job(tenant="chunky", sync_type="full", sync_size="small")
    flow_s = time.perf_counter() - started
    assert job.total_chunks == chunks

    configure(workdir / "oh-plain.db", base, max_concurrent_chunks=1, page_size=size)
    settings = get_settings()
    ledger, dest = get_ledger(settings.database_url), get_destination(settings.destination)
    started = time.perf_counter()
    with RestSource.from_settings(settings) as source:
        claimed = ledger.create_job(
            job_id=str(uuid.uuid4()),
            tenant="chunky",
            sync_type=SyncType.FULL.value,
            sync_size=SyncSize.SMALL.value,
            chunk_size=size,
            resources=("contacts",),
        )
        planned = plan(ledger, source, claimed.id, watermark_lag=timedelta(0))
        for index in range(1, chunks + 1):
            run_chunk(
                ledger,
                source,
                dest,
                job_id=planned.id,
                tenant="chunky",
                index=index,
                worker="bench",
            )
    plain_s = time.perf_counter() - started
    return {
        "chunks": chunks,
        "flow_s": flow_s,
        "flow_fixed_cost_s": fixed_s,
        "plain_s": plain_s,
        "overhead_ms_per_chunk": (flow_s - fixed_s - plain_s) / chunks * 1000,
    }


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


def save_result(name: str, result: dict[str, object]) -> None:
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--chunks", type=int, default=100)
    args = parser.parse_args()
    with bench_setup() as (base, tmp):
        result = {
            "throughput": throughput(base, args.records, args.rounds, tmp),
            "overhead": overhead(base, args.chunks, tmp),
        }
    save_result("sync_bench", result)


if __name__ == "__main__":
    main()
