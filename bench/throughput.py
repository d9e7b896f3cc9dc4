"""A sync against the least work it must do, side by side in one run.

For each database and size, a fresh database takes the least work (``bench.least_work``) and
then ``jobsview run``, with a running Prefect server and on the embedded default. The chunks
are Sync Size medium (500 records), four at a time, from pages of at most 100 records.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.least_work import least_work
from bench.services import Run, add_tenant, database, env_for, jobsview

CHUNK, PAGE, CONCURRENCY = 500, 100, 4
Result = dict[str, Any]


def _floor(base: str, backend: str, tenant: str, records: int) -> float:
    from connectors.destination import Destination
    from core.db import get_engine

    with database(backend) as url:
        engine = get_engine(url)
        Destination(engine)  # the same table, made by the product's own migrations
        started = time.perf_counter()
        written = least_work(
            base,
            url,
            tenant,
            "contacts",
            records,
            chunk_size=CHUNK,
            page_size=PAGE,
            concurrency=CONCURRENCY,
        )
        seconds = time.perf_counter() - started
        engine.dispose()
    assert written == records, f"least work wrote {written} of {records}"
    return seconds


def sync(
    base: str, backend: str, tenant: str, records: int, api: str | None, home: Path
) -> tuple[Run, float]:
    """A full sync of ``tenant`` by ``jobsview run``, checked complete, and the seconds from
    starting the command to its first chunk running (by the ledger's clock)."""
    from sqlalchemy import func, select

    from core.db import get_engine
    from ledger.schema import chunks

    with database(backend) as url:
        env = env_for(url, base, api, home)
        env["JOBSVIEW_MAX_CONCURRENT_CHUNKS"] = str(CONCURRENCY)
        run = jobsview(["run", "--tenant", tenant, "--type", "full", "--sync-size", "medium"], env)
        engine = get_engine(url)
        with engine.connect() as conn:
            first = conn.execute(select(func.min(chunks.c.started_at))).scalar_one()
        engine.dispose()
    job = run.document
    assert job["status"] == "completed", f"{tenant}: {job['status']}: {job.get('error')}"
    assert job["records_synced"] == records, f"{tenant}: {job['records_synced']} of {records}"
    return run, first.timestamp() - run.started_at


def throughput(
    base: str, api: str, homes: tuple[Path, Path], sizes: tuple[int, ...]
) -> list[Result]:
    """Ratios to the least work for each database, size and Prefect setup; RSS; first chunk."""
    server_home, embedded_home = homes
    results: list[Result] = []
    runs: dict[tuple[str, int], Run] = {}
    firsts: list[float] = []
    for records in sizes:
        tenant = f"t{records}"
        add_tenant(base, tenant, records)
        for backend in ("sqlite", "postgresql"):
            for mode, api_url, home in (
                ("running server", api, server_home),
                ("embedded default", None, embedded_home),
            ):
                floor = _floor(base, backend, tenant, records)
                run, first = sync(base, backend, tenant, records, api_url, home)
                target = 0.6 if mode == "running server" else 0.5
                results.append(
                    {
                        "measure": f"throughput, {mode}, {records // 1000}k",
                        "backend": backend,
                        "value": floor / run.seconds,
                        "unit": "x",
                        "target": target if records == max(sizes) else None,
                        "at_least": True,
                        "detail": f"{run.seconds:.1f} s against {floor:.1f} s "
                        f"({records / run.seconds:,.0f} against {records / floor:,.0f} records/s)",
                    }
                )
                if mode == "running server" and backend == "sqlite":
                    runs[backend, records] = run
                    firsts.append(first)
    small, large = min(sizes), max(sizes)
    rss = {n: runs["sqlite", n].peak_rss_mb for n in (small, large)}
    results.append(
        {
            "measure": f"peak RSS, {large // 1000}k against {small // 1000}k",
            "backend": "sqlite",
            "value": rss[large] / rss[small],
            "unit": "x",
            "target": 1.2,
            "detail": f"{rss[large]:.0f} MB against {rss[small]:.0f} MB",
        }
    )
    results.append(
        {
            "measure": "`jobsview run` to the first chunk running, with a server",
            "backend": "sqlite",
            "value": max(firsts),  # the slower of the two sizes
            "unit": "s",
            "target": 2.0,
        }
    )
    return results


def overhead(base: str, api: str, home: Path, chunks: int = 200) -> Result:
    """Per chunk: a run of tiny chunks, one at a time, less the same chunks as plain calls and
    less a run of no chunks (the fixed cost of a process and a flow run)."""
    size = 100  # Sync Size small
    add_tenant(base, "tiny", chunks * size)
    add_tenant(base, "none", 0)

    def flow(tenant: str) -> float:
        with database("sqlite") as url:
            env = env_for(url, base, api, home)
            env["JOBSVIEW_MAX_CONCURRENT_CHUNKS"] = "1"
            args = ["run", "--tenant", tenant, "--type", "full", "--sync-size", "small"]
            return jobsview(args, env).seconds

    # The best of three of each: one slow sample would otherwise swing the difference.
    fixed = min(flow("none") for _ in range(3))
    full = min(flow("tiny") for _ in range(3))
    plain = min(plain_chunks(base, "tiny", chunks, sync_size="small") for _ in range(3))
    per_chunk = (full - fixed - plain) / chunks * 1000
    return {
        "measure": "orchestration overhead per chunk",
        "backend": "sqlite",
        "value": per_chunk,
        "unit": "ms",
        "target": 3.0,
        "detail": f"{chunks} chunks, best of 3: run {full:.2f} s, empty run {fixed:.2f} s, "
        f"plain calls {plain:.2f} s",
    }


def plain_chunks(base: str, tenant: str, chunks: int, *, sync_size: str) -> float:
    """A job planned and its ``chunks`` chunks run by plain calls, one at a time."""
    import uuid
    from datetime import timedelta

    from pydantic import AnyHttpUrl

    from chunking import SyncSize
    from connectors.destination import get_destination
    from connectors.source import RestSource
    from core.settings import Settings
    from ledger.store import get_ledger
    from tasks.plan_job import plan
    from tasks.sync_chunk import run_chunk

    with database("sqlite") as url:
        settings = Settings(database_url=url, source_url=AnyHttpUrl(base), resources=("contacts",))
        ledger, destination = get_ledger(url), get_destination(url)
        started = time.perf_counter()
        with RestSource.from_settings(settings) as source:
            job = ledger.create_job(
                job_id=str(uuid.uuid4()),
                tenant=tenant,
                sync_type="full",
                sync_size=sync_size,
                chunk_size=SyncSize(sync_size).chunk_size,
                resources=("contacts",),
            )
            job = plan(ledger, source, job.id, watermark_lag=timedelta(0))
            assert job.total_chunks == chunks
            for index in range(1, chunks + 1):
                run_chunk(
                    ledger,
                    source,
                    destination,
                    job_id=job.id,
                    tenant=tenant,
                    index=index,
                    worker="b",
                )
        return time.perf_counter() - started
