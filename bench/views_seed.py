"""A large ledger, fast: ``jobs`` jobs and about ``chunks`` chunks, one job with ``big`` chunks.

Jobs are inserted with executemany; chunks are generated in the database (``INSERT ... SELECT``
over a numbers table) from a small per-job plan, so a million chunks take seconds.
Statuses are mostly completed, some failed, cancelled or incomplete (half of those resumed, with
``parent_id``), a few running and queued; the big job is running.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, text

from core.db import UTCDateTime, utcnow
from ledger.schema import jobs, tenant_settings
from ledger.store import get_ledger

TENANTS = 100
ENDED = ["completed"] * 85 + ["failed"] * 6 + ["cancelled"] * 4 + ["incomplete"] * 5

_plans = MetaData()
plan = Table(
    "seed_plan",
    _plans,
    Column("job_id", String(36), primary_key=True),
    Column("created_at", UTCDateTime),
    Column("n_chunks", Integer),
    Column("done_upto", Integer),  # chunks 1..done_upto completed (but every fail_every-th)
    Column("fail_every", Integer),
    Column("running_upto", Integer),  # then running up to here
    Column("rest", String(16)),  # then this status
    prefixes=["TEMPORARY"],
)
numbers = Table(
    "seed_numbers", _plans, Column("n", Integer, primary_key=True), prefixes=["TEMPORARY"]
)


@dataclass(frozen=True)
class Seeded:
    url: str
    big_job: str  # the running job with ``big`` chunks
    typical_job: str  # a completed job with the usual number of chunks
    jobs: int
    chunks: int


def _shape(status: str, n: int) -> tuple[int, int, int, str]:
    """(done_upto, fail_every, running_upto, rest) for a job of ``n`` chunks in ``status``."""
    if status == "completed":
        return n, 0, n, "completed"
    if status == "incomplete":
        return n, 10, n, "failed"
    if status == "cancelled":
        return n // 2, 0, n // 2, "cancelled"
    if status == "running":
        done = n * 6 // 10
        return done, 97, done + 4, "pending"
    return 0, 0, 0, "failed" if status == "failed" else "pending"


def _jobs(count: int, chunks: int, big: int, rng: random.Random) -> tuple[list[dict], list[dict]]:
    now = utcnow()
    per_job = max(1, (chunks - big) // max(count - 1, 1))
    last: dict[tuple[str, str], dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    plans: list[dict[str, Any]] = []
    tenants = max(1, min(TENANTS, count // 20))  # some history per tenant, at any size
    for i in range(count):
        tenant = f"t{i % tenants:03d}"
        sync_type = "full" if (i // tenants) % 3 == 0 else "partial"
        created = now - timedelta(minutes=count - i)
        status = rng.choice(ENDED)
        previous = last.get((tenant, sync_type))
        resumes = previous and previous["status"] != "completed" and rng.random() < 0.5
        row = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "tenant": tenant,
            "sync_type": sync_type,
            "status": status,
            "sync_size": "medium",
            "chunk_size": 500,
            "resources": "contacts,deals",
            "parent_id": previous["id"] if resumes and previous else None,
            "flow_run_id": str(uuid.uuid4()),
            "created_at": created,
            "started_at": created + timedelta(seconds=1),
            "finished_at": created + timedelta(seconds=40),
            "heartbeat_at": created + timedelta(seconds=40),
            "error": "source answered 500 for contacts at offset 0" if status == "failed" else None,
            "cancel_requested": status == "cancelled",
            "ran_as_full": False,
            "records_stored": None,
        }
        rows.append(row)
        last[(tenant, sync_type)] = row
    # The newest job of a few tenants is still going; the very newest one is the big one.
    for k, row in enumerate(reversed(list(last.values())[:8])):
        row.update(status="running" if k < 6 else "queued", finished_at=None, error=None)
        row["heartbeat_at"] = now
        row["started_at"] = None if k >= 6 else row["started_at"]
    big_id = rows[-1]["id"]
    started = rows[-1]["created_at"] + timedelta(seconds=1)
    rows[-1].update(status="running", started_at=started, finished_at=None, error=None)
    rows[-1]["heartbeat_at"] = now
    for row in rows:
        n = big if row["id"] == big_id else per_job
        done, fail_every, running, rest = _shape(row["status"], n)
        plans.append(
            {
                "job_id": row["id"],
                "created_at": row["created_at"],
                "n_chunks": n,
                "done_upto": done,
                "fail_every": fail_every,
                "running_upto": running,
                "rest": rest,
            }
        )
    return rows, plans


CHUNKS_SQL = """
INSERT INTO chunks (job_id, "index", resource, "offset", "limit", status, records, attempts,
                    error, worker, started_at, finished_at)
SELECT job_id, n, CASE WHEN n * 2 <= n_chunks THEN 'contacts' ELSE 'deals' END,
       ((n - 1) % ((n_chunks + 1) / 2)) * 500, CASE WHEN n = n_chunks THEN NULL ELSE 500 END,
       st, CASE WHEN st = 'completed' THEN 500 ELSE 0 END,
       CASE WHEN st = 'failed' THEN 4 WHEN st = 'pending' THEN 0 ELSE 1 END,
       CASE WHEN st = 'failed' THEN 'malformed page: contacts at offset ' || n * 500 END,
       CASE WHEN st <> 'pending' THEN 'worker-1:4242' END,
       CASE WHEN st <> 'pending' THEN {start} END,
       CASE WHEN st NOT IN ('pending', 'running') THEN {finish} END
FROM (
  SELECT p.job_id, s.n, p.n_chunks, p.created_at,
         CASE WHEN s.n <= p.done_upto THEN
                CASE WHEN p.fail_every > 0 AND s.n % p.fail_every = 0 THEN 'failed'
                     ELSE 'completed' END
              WHEN s.n <= p.running_upto THEN 'running'
              ELSE p.rest END AS st
  FROM seed_plan p JOIN seed_numbers s ON s.n <= p.n_chunks
) AS planned
"""
SQLITE_TIMES = {
    "start": "strftime('%Y-%m-%d %H:%M:%f', created_at, '+' || (n % 30) || ' seconds')",
    "finish": "strftime('%Y-%m-%d %H:%M:%f', created_at, '+' || (n % 30 + 2) || ' seconds')",
}
PG_TIMES = {
    "start": "created_at + (n % 30) * interval '1 second'",
    "finish": "created_at + (n % 30 + 2) * interval '1 second'",
}


def seed(url: str, *, jobs_count: int, chunks: int, big: int, rng_seed: int = 9) -> Seeded:
    """Fill the empty ledger at ``url`` (migrated here)."""
    rng = random.Random(rng_seed)
    engine = get_ledger(url).engine
    rows, plans = _jobs(jobs_count, chunks, big, rng)
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        conn.execute(insert(jobs), rows)
        conn.execute(
            insert(tenant_settings),
            [
                {"tenant": f"t{t:03d}", "sync_size": "large", "updated_at": utcnow()}
                for t in range(10)
            ],
        )
        _plans.create_all(conn)
        conn.execute(insert(plan), plans)
        most = max(p["n_chunks"] for p in plans)
        if postgres:
            conn.execute(
                text("INSERT INTO seed_numbers SELECT generate_series(1, :m)"), {"m": most}
            )
            conn.execute(text("ANALYZE seed_plan; ANALYZE seed_numbers"))
        else:
            conn.execute(
                text(
                    "INSERT INTO seed_numbers WITH RECURSIVE s(n) AS "
                    "(SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < :m) SELECT n FROM s"
                ),
                {"m": most},
            )
        conn.execute(text(CHUNKS_SQL.format(**(PG_TIMES if postgres else SQLITE_TIMES))))
        _plans.drop_all(conn)
    if postgres:  # what autovacuum does after a bulk load, done now: not while measuring
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    total = sum(p["n_chunks"] for p in plans)
    typical = next(r["id"] for r in reversed(rows) if r["status"] == "completed")
    return Seeded(url, rows[-1]["id"], typical, len(rows), total)
