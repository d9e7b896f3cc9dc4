"""The SQL destination: the ``records`` table, written one atomic upsert per chunk."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Column, Engine, MetaData, String, Table, func, select
from sqlalchemy.exc import SQLAlchemyError

from core.db import UTCDateTime, get_engine, safe_url, utcnow
from core.errors import DestinationError
from core.migrate import DESTINATION_SETTING, migrate

metadata = MetaData()

records = Table(
    "records",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("resource", String(63), primary_key=True),
    Column("record_id", String(255), primary_key=True),
    Column("updated_at", UTCDateTime, nullable=True),
    Column("data", JSON, nullable=False),
    Column("job_id", String(36), nullable=False),
    Column("synced_at", UTCDateTime, nullable=False),
)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


_KEYS = ("tenant", "resource", "record_id")


def _dumps(item: Mapping[str, Any]) -> str:
    try:
        return orjson.dumps(item).decode()
    except TypeError:  # an integer beyond 64 bits
        return json.dumps(item, separators=(",", ":"))


@functools.cache
def _upsert_sql(dialect: str) -> str:
    """The ``records`` upsert in the driver's own parameter style."""
    mark = "?" if dialect == "sqlite" else "%s"
    names = [c.name for c in records.columns]
    values = [
        f"CAST({mark} AS JSON)" if n == "data" and dialect != "sqlite" else mark for n in names
    ]
    updates = [f"{n} = excluded.{n}" for n in names if n not in _KEYS]
    return (
        f"INSERT INTO records ({', '.join(names)}) VALUES ({', '.join(values)}) "
        f"ON CONFLICT ({', '.join(_KEYS)}) DO UPDATE SET {', '.join(updates)}"
    )


def _stamp_for(dialect: str) -> Callable[[datetime], Any]:
    """How a UTC datetime is bound: as ``UTCDateTime`` stores it on SQLite, else as is."""
    if dialect == "sqlite":
        return lambda value: (
            value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        )
    return lambda value: value


class Destination:
    def __init__(self, engine: Engine) -> None:
        migrate(
            engine, "connectors:migrations", "jobsview_records_version", setting=DESTINATION_SETTING
        )
        self.engine = engine

    def write_chunk(
        self, tenant: str, resource: str, job_id: str, items: Iterable[Mapping[str, Any]]
    ) -> int:
        """Upsert a chunk's items in one transaction: all of them or none.

        Returns how many distinct records were written. A record seen twice in
        one chunk (the source shifted under us) keeps its last version.
        """
        dialect = self.engine.dialect.name
        stamp = _stamp_for(dialect)
        now = stamp(utcnow())
        rows: dict[str, tuple[Any, ...]] = {}
        for item in items:
            record_id = str(item["id"])
            updated_at = _parse_time(item.get("updated_at"))
            rows[record_id] = (
                tenant,
                resource,
                record_id,
                None if updated_at is None else stamp(updated_at),
                _dumps(item),
                job_id,
                now,
            )
        if not rows:
            return 0
        try:
            with self.engine.begin() as conn:
                # Serialised once, on the driver's executemany: SQLAlchemy's per-row bind
                # processing cost more than the database's own work.
                conn.exec_driver_sql(_upsert_sql(dialect), list(rows.values()))
        except SQLAlchemyError as exc:
            raise DestinationError(
                f"writing {len(rows)} {resource} records for tenant {tenant!r} to "
                f"{safe_url(str(self.engine.url))} failed: {str(exc).splitlines()[0]}"
            ) from exc
        return len(rows)

    def count(self, tenant: str, resource: str | None = None, job_ids: Sequence[str] = ()) -> int:
        """Stored records of a tenant (of one resource; last written by one of ``job_ids``)."""
        query = select(func.count()).select_from(records).where(records.c.tenant == tenant)
        if resource:
            query = query.where(records.c.resource == resource)
        if job_ids:
            query = query.where(records.c.job_id.in_(list(job_ids)))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def read(self, tenant: str, resource: str) -> dict[str, dict[str, Any]]:
        """Every stored record of one resource, by record id (for checks and tests)."""
        query = select(records.c.record_id, records.c.data).where(
            records.c.tenant == tenant, records.c.resource == resource
        )
        with self.engine.connect() as conn:
            return {row.record_id: row.data for row in conn.execute(query)}


@functools.cache
def get_destination(url: str) -> Destination:
    return Destination(get_engine(url))
