"""ledger/schema.py and the migrations describe the same tables and indexes."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ledger.schema import metadata
from ledger.store import get_ledger


def test_the_migrated_schema_is_the_declared_one(db_url: str) -> None:
    with get_ledger(db_url).engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": "jobsview_ledger_version"}
        )
        assert compare_metadata(context, metadata) == []
