"""The least work a sync must do: read the pages, upsert the rows, nothing else.

Plain httpx reads each chunk's pages and a plain driver ``executemany`` upserts them into the
same ``records`` table the product writes, at the same concurrency and chunk size. No ledger, no
Prefect, no drift margin: the floor that the product's throughput is quoted against.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.engine import make_url

UPSERT = (
    "INSERT INTO records (tenant, resource, record_id, updated_at, data, job_id, synced_at) "
    "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}) "
    "ON CONFLICT (tenant, resource, record_id) DO UPDATE SET updated_at = excluded.updated_at, "
    "data = excluded.data, job_id = excluded.job_id, synced_at = excluded.synced_at"
)


def _connect(url: str) -> Callable[[], Any]:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""

        def sqlite_conn() -> Any:
            conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            return conn

        return sqlite_conn
    import psycopg

    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    return lambda: psycopg.connect(dsn)


def _placeholder(url: str) -> str:
    return "?" if make_url(url).get_backend_name() == "sqlite" else "%s"


@contextmanager
def _per_thread(factory: Callable[[], Any]) -> Iterator[Callable[[], Any]]:
    local, opened = threading.local(), []

    def get() -> Any:
        if not hasattr(local, "conn"):
            local.conn = factory()
            opened.append(local.conn)
        return local.conn

    try:
        yield get
    finally:
        for conn in opened:
            conn.close()


def least_work(
    base_url: str,
    database_url: str,
    tenant: str,
    resource: str,
    total: int,
    *,
    chunk_size: int,
    page_size: int,
    concurrency: int,
) -> int:
    """Read ``total`` records chunk by chunk and upsert each chunk; returns the rows written."""
    sql = UPSERT.format(p=_placeholder(database_url))
    path = f"/tenants/{tenant}/{resource}"
    with (
        httpx.Client(base_url=base_url, limits=httpx.Limits(max_connections=concurrency)) as http,
        _per_thread(_connect(database_url)) as connection,
    ):

        def chunk(offset: int) -> int:
            items: list[dict[str, Any]] = []
            end = offset + chunk_size
            while offset < end:
                page = http.get(path, params={"offset": offset, "limit": page_size}).json()
                if not page["items"]:
                    break
                items.extend(page["items"])
                offset += len(page["items"])
            now = datetime.now(UTC).isoformat()
            rows = [
                (tenant, resource, str(i["id"]), i.get("updated_at"), json.dumps(i), "least", now)
                for i in items
            ]
            conn = connection()
            # One transaction per chunk, as the product writes.
            with conn.transaction() if hasattr(conn, "transaction") else conn:
                conn.cursor().executemany(sql, rows)
            return len(rows)

        with ThreadPoolExecutor(concurrency) as pool:
            return sum(pool.map(chunk, range(0, total, chunk_size)))
