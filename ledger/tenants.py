"""Per-tenant state in the ledger: stored Sync Size and watermarks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Engine, delete, func, select

from chunking import SyncSize
from core.db import reader, retry_db, upsert, utcnow
from core.errors import JobStateError, TenantNotFoundError
from ledger.schema import jobs, tenant_settings, watermarks

# The stored default's key: no valid tenant name can take it.
DEFAULT_KEY = "*"


class TenantReader:
    """Reads per-tenant state; the writes are ``TenantWriter``'s, which only ``Ledger`` has."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reader = reader(engine)  # for reads only: never waits behind a writer

    @retry_db
    def tenant_sync_size(self, tenant: str) -> SyncSize | None:
        with self.reader.connect() as conn:
            value = conn.execute(
                select(tenant_settings.c.sync_size).where(tenant_settings.c.tenant == tenant)
            ).scalar()
        return None if value is None else SyncSize(value)

    @retry_db
    def tenant_sync_sizes(self) -> dict[str, SyncSize]:
        with self.reader.connect() as conn:
            rows = conn.execute(select(tenant_settings).order_by(tenant_settings.c.tenant)).all()
        return {row.tenant: SyncSize(row.sync_size) for row in rows if row.tenant != DEFAULT_KEY}

    def default_sync_size(self) -> SyncSize | None:
        """The default stored from the Settings page; JOBSVIEW_SYNC_SIZE applies without one."""
        return self.tenant_sync_size(DEFAULT_KEY)

    @retry_db
    def tenants_without_jobs(self) -> list[str]:
        """Tenants with a stored Sync Size or watermark but no job: typos, as a rule."""
        with self.reader.connect() as conn:
            stored = set(conn.execute(select(tenant_settings.c.tenant)).scalars())
            stored |= set(conn.execute(select(watermarks.c.tenant)).scalars())
            stored.discard(DEFAULT_KEY)
            used = set(conn.execute(select(jobs.c.tenant).distinct()).scalars())
        return sorted(stored - used)

    @retry_db
    def watermarks(self, tenant: str) -> dict[str, datetime]:
        """Planning start of the last completed job, per resource."""
        with self.reader.connect() as conn:
            rows = conn.execute(
                select(watermarks.c.resource, watermarks.c.planned_at).where(
                    watermarks.c.tenant == tenant
                )
            ).all()
        return {row.resource: row.planned_at for row in rows}


class TenantWriter:
    """Writes per-tenant state: the Sync Sizes stored from the Settings page, and watermarks."""

    engine: Engine

    def set_default_sync_size(self, size: SyncSize | None) -> None:
        self.set_tenant_sync_size(DEFAULT_KEY, size)

    @retry_db
    def set_tenant_sync_size(self, tenant: str, size: SyncSize | None) -> None:
        """Store a tenant's Sync Size; ``None`` returns it to the default."""
        with self.engine.begin() as conn:
            if size is None:
                conn.execute(delete(tenant_settings).where(tenant_settings.c.tenant == tenant))
                return
            stmt = upsert(tenant_settings, conn.dialect.name, ["tenant"])
            conn.execute(stmt, {"tenant": tenant, "sync_size": size.value, "updated_at": utcnow()})

    @retry_db
    def forget_tenant(self, tenant: str) -> None:
        """Drop what is stored for a tenant that has no jobs; its history is never dropped."""
        if tenant == DEFAULT_KEY:
            raise TenantNotFoundError(tenant)
        with self.engine.begin() as conn:
            count = conn.execute(select(func.count()).where(jobs.c.tenant == tenant)).scalar()
            if count:
                raise JobStateError(
                    f"tenant {tenant!r} has {count:,} job{'s' if count != 1 else ''}: only a "
                    "tenant without jobs can be forgotten (its history stays)"
                )
            dropped = conn.execute(
                delete(tenant_settings).where(tenant_settings.c.tenant == tenant)
            )
            marks = conn.execute(delete(watermarks).where(watermarks.c.tenant == tenant))
            if not (dropped.rowcount or marks.rowcount):
                raise TenantNotFoundError(tenant)

    @retry_db
    def set_watermarks(
        self, tenant: str, resources: Iterable[str], planned_at: datetime, job_id: str
    ) -> None:
        rows = [
            {"tenant": tenant, "resource": r, "planned_at": planned_at, "job_id": job_id}
            for r in resources
        ]
        if not rows:
            return
        with self.engine.begin() as conn:
            conn.execute(upsert(watermarks, conn.dialect.name, ["tenant", "resource"]), rows)
