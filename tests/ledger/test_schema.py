"""Each schema is declared once in Python and built by its migrations: the two must agree.

The comparison is alembic's autogenerate, configured as each tree's env.py configures it, over a
database holding both trees, as a deployment's does.
"""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Engine, Integer, MetaData

from connectors import destination
from core.db import get_engine
from core.migrate import migration_options
from ledger import schema
from ledger.store import get_ledger

TREES = [
    pytest.param(schema.metadata, "jobsview_ledger_version", id="ledger"),
    pytest.param(destination.metadata, "jobsview_records_version", id="records"),
]


def differences(engine: Engine, metadata: MetaData, version_table: str) -> list[Any]:
    with engine.connect() as conn:
        opts = migration_options(metadata, version_table, conn.dialect.name)
        return compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)


@pytest.fixture
def engine(db_url: str) -> Engine:
    get_ledger(db_url)
    destination.Destination(get_engine(db_url))
    return get_engine(db_url)


@pytest.mark.parametrize(("metadata", "version_table"), TREES)
def test_the_migrated_schema_is_the_declared_one(
    engine: Engine, metadata: MetaData, version_table: str
) -> None:
    assert differences(engine, metadata, version_table) == []


@pytest.mark.parametrize(("metadata", "version_table"), TREES)
def test_a_column_declared_but_not_migrated_is_found(
    engine: Engine, metadata: MetaData, version_table: str
) -> None:
    drifted = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(drifted)
    next(iter(drifted.tables.values())).append_column(Column("drifted", Integer))
    found = differences(engine, drifted, version_table)
    assert [d[0] for d in found] == ["add_column"]
