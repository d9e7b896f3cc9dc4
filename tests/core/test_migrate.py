"""Opening an up-to-date database skips alembic, and only then."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

import core.db
from core.db import _head, get_engine, migrate

TREES = ["ledger:migrations", "connectors:migrations"]


@pytest.mark.parametrize("location", TREES)
def test_head_read_from_the_files_is_alembics(location: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", location)
    assert _head(location) == ScriptDirectory.from_config(cfg).get_current_head()


def test_an_outdated_schema_is_still_upgraded(db_url: str) -> None:
    engine = get_engine(db_url)
    migrate(engine, "ledger:migrations", "jobsview_ledger_version")
    cfg = Config()
    cfg.set_main_option("script_location", "ledger:migrations")
    cfg.set_main_option("version_table", "jobsview_ledger_version")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002_job_totals")
    core.db._migrated.clear()  # a new process
    migrate(engine, "ledger:migrations", "jobsview_ledger_version")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM jobsview_ledger_version")).scalar() == (
            _head("ledger:migrations")
        )
        conn.execute(text("SELECT drift, records_stored FROM jobs"))  # the columns are back
