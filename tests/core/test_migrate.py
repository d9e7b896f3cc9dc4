"""Opening an up-to-date database skips alembic, and only then; a table in the way of a
migration is named, not blamed on the connection."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

import core.migrate
from core.db import get_engine, safe_url
from core.errors import ConfigError, SchemaConflictError
from core.migrate import _head, migrate
from ledger.store import Ledger

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
    core.migrate._migrated.clear()  # a new process
    migrate(engine, "ledger:migrations", "jobsview_ledger_version")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM jobsview_ledger_version")).scalar() == (
            _head("ledger:migrations")
        )
        conn.execute(text("SELECT drift, records_stored FROM jobs"))  # the columns are back


def test_a_foreign_jobs_table_is_named_not_blamed_on_the_connection(db_url: str) -> None:
    with get_engine(db_url).begin() as conn:
        conn.execute(text("CREATE TABLE jobs (id INTEGER PRIMARY KEY, payload TEXT)"))
    with pytest.raises(SchemaConflictError) as info:
        Ledger(get_engine(db_url))
    message = str(info.value)
    assert message.startswith(
        f'the ledger database {safe_url(db_url)} has a table "jobs" that is not Jobs View\'s: '
        "it lacks the columns tenant, sync_type, status,"
    )
    assert message.endswith(
        "(it has id, payload); point JOBSVIEW_DATABASE_URL at another database or schema, "
        "or rename that table"
    )
    assert "check that it is running" not in message
    with get_engine(db_url).connect() as conn:  # nothing of the ledger's was created
        assert set(inspect(conn).get_table_names()) == {"jobs"}


def test_our_tables_without_their_version_table_are_not_taken_for_ours(db_url: str) -> None:
    engine = get_engine(db_url)
    migrate(engine, "ledger:migrations", "jobsview_ledger_version")
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE jobsview_ledger_version"))
    core.migrate._migrated.clear()  # a new process
    with pytest.raises(SchemaConflictError) as info:
        migrate(engine, "ledger:migrations", "jobsview_ledger_version")
    message = str(info.value)
    assert "has tables that are not Jobs View's: " in message
    assert '"jobs" has Jobs View\'s columns, but there is no jobsview_ledger_version table' in (
        message
    )
    assert all(f'"{name}"' in message for name in ("chunks", "tenant_settings", "watermarks"))
    assert message.endswith(
        "point JOBSVIEW_DATABASE_URL at another database or schema, or rename those tables"
    )


def test_an_unreachable_ledger_still_says_check_that_it_is_running() -> None:
    url = "postgresql+psycopg://u:hunter2@127.0.0.1:1/x"
    with pytest.raises(ConfigError) as info:
        Ledger(get_engine(url))
    assert not isinstance(info.value, SchemaConflictError)
    message = str(info.value)
    assert message.startswith("cannot open database postgresql+psycopg://u:***@127.0.0.1:1/x: ")
    assert "check that it is running" in message and "JOBSVIEW_DATABASE_URL" in message


def test_an_up_to_date_schema_is_not_inspected(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = get_engine(db_url)
    migrate(engine, "ledger:migrations", "jobsview_ledger_version")
    core.migrate._migrated.clear()  # a new process

    def no_inspection(*_: object, **__: object) -> None:
        raise AssertionError("inspected an up-to-date schema")

    monkeypatch.setattr(core.migrate, "inspect", no_inspection)
    migrate(engine, "ledger:migrations", "jobsview_ledger_version")
