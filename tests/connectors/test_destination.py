"""The records table on SQLite and PostgreSQL: atomic upserts per chunk."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

import core.migrate
from connectors.destination import Destination, get_destination
from core import ConfigError, DestinationError
from core.db import get_engine, safe_url
from core.errors import SchemaConflictError
from tests.factories import make_items

AWKWARD = [
    "Zoë Ångström 東京 🚀",
    '<script>alert("x")</script> & <b>bold</b>',
    "Robert'); DROP TABLE records;--",
    "quotes \" ' back\\slash\nnew line\ttab",
    "\u2028\u2029 line separators, \u00a0 nbsp",
]


@pytest.fixture
def dest(db_url: str) -> Destination:
    return get_destination(db_url)


def test_upsert_writes_once_and_updates_in_place(dest: Destination) -> None:
    assert dest.write_chunk("acme", "contacts", "job-1", make_items(50)) == 50
    changed = make_items(10, name="changed") + make_items(5, start=50)
    assert dest.write_chunk("acme", "contacts", "job-2", changed) == 15
    rows = dest.read("acme", "contacts")
    assert len(rows) == 55 and dest.count("acme") == 55
    assert rows["3"]["name"] == "changed" and rows["20"]["name"] == "r20"


def test_payloads_are_stored_exactly(dest: Destination) -> None:
    items = [
        {
            "id": f"ü-{i}",
            "updated_at": "2026-01-01T00:00:00Z",
            "note": text,
            "nested": {"a": [1, None, 2.5]},
        }
        for i, text in enumerate(AWKWARD)
    ]
    items.append({"id": 10**15, "updated_at": "not a date", "big": 2**53 + 1})
    items.append({"id": "huge", "beyond_64_bits": 2**70, "negative": -(2**65)})
    dest.write_chunk("acme", "deals", "job-1", items)
    rows = dest.read("acme", "deals")
    for item in items:
        assert rows[str(item["id"])] == item


def test_duplicate_ids_in_one_chunk_keep_the_last(dest: Destination) -> None:
    items = [*make_items(3), {"id": 1, "updated_at": "2026-02-01T00:00:00+00:00", "name": "last"}]
    assert dest.write_chunk("acme", "contacts", "job-1", items) == 3
    assert dest.read("acme", "contacts")["1"]["name"] == "last"


def refuse_record(dest: Destination, record_id: str) -> None:
    """A trigger that fails the INSERT of one record, inside the database."""
    with dest.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                f"CREATE TRIGGER refuse BEFORE INSERT ON records WHEN NEW.record_id = "
                f"'{record_id}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
            return
        conn.exec_driver_sql(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.record_id = '{record_id}' THEN RAISE EXCEPTION 'refused by the test'; "
            "END IF; RETURN NEW; END $$"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON records FOR EACH ROW EXECUTE FUNCTION refuse()"
        )


def test_a_chunk_is_written_whole_or_not_at_all(dest: Destination) -> None:
    dest.write_chunk("acme", "contacts", "job-1", make_items(20))
    refuse_record(dest, "25")
    # Updates of records 0-19 and inserts of 20-24 reach the database before 25 is refused.
    with pytest.raises(DestinationError, match="refused by the test"):
        dest.write_chunk("acme", "contacts", "job-2", make_items(30, name="second"))
    assert dest.count("acme") == 20
    assert dest.count("acme", job_ids=["job-2"]) == 0
    assert {row["name"] for row in dest.read("acme", "contacts").values()} == {
        f"r{i}" for i in range(20)
    }
    # The refusal was the record's, not the connection's: the next chunk writes.
    assert dest.write_chunk("acme", "contacts", "job-3", make_items(5, start=30)) == 5


def test_a_record_that_is_not_json_fails_before_any_write(dest: Destination) -> None:
    items = [*make_items(20), {"id": 99, "updated_at": "x", "bad": {1, 2}}]  # a set is not JSON
    with pytest.raises(TypeError):
        dest.write_chunk("acme", "contacts", "job-1", items)
    assert dest.count("acme") == 0


def test_tenants_and_resources_are_isolated(dest: Destination) -> None:
    dest.write_chunk("acme", "contacts", "j", make_items(5))
    dest.write_chunk("globex", "contacts", "j", make_items(3))
    dest.write_chunk("acme", "deals", "j", make_items(2))
    assert (dest.count("acme", "contacts"), dest.count("globex"), dest.count("acme")) == (5, 3, 7)
    assert dest.write_chunk("acme", "contacts", "j", []) == 0


def with_password(url: str) -> str:
    """The URL with a password the messages must mask (trust auth ignores it)."""
    return url.replace("postgres@", "postgres:hunter2@", 1)


def test_a_foreign_records_table_is_named_not_blamed_on_the_connection(db_url: str) -> None:
    url = with_password(db_url)
    with get_engine(url).begin() as conn:
        conn.execute(sa.text("CREATE TABLE records (id INTEGER PRIMARY KEY, payload TEXT)"))
    try:
        with pytest.raises(SchemaConflictError) as info:
            get_destination(url)
        message = str(info.value)
        assert message == (
            f'the destination database {safe_url(url)} has a table "records" that is not '
            "Jobs View's: it lacks the columns tenant, resource, record_id, updated_at, data, "
            "job_id, synced_at (it has id, payload); point JOBSVIEW_DESTINATION_URL at another "
            "database or schema, or rename that table"
        )
        assert "check that it is running" not in message and "hunter2" not in message
        with get_engine(url).begin() as conn:  # left as it was, and nothing of ours created
            assert conn.execute(sa.text("SELECT id, payload FROM records")).all() == []
            assert not sa.inspect(conn).has_table("jobsview_records_version")
            conn.execute(sa.text("ALTER TABLE records RENAME TO their_records"))
        assert get_destination(url).write_chunk("acme", "contacts", "job-1", make_items(2)) == 2
    finally:
        get_engine(url).dispose()


def test_a_table_in_the_way_of_a_later_migration_is_named(db_url: str) -> None:
    """The version table is there (an earlier run), so the check is the failed CREATE's."""
    engine = get_engine(db_url)
    Destination(engine)
    cfg = Config()
    cfg.set_main_option("script_location", "connectors:migrations")
    cfg.set_main_option("version_table", "jobsview_records_version")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
        conn.execute(sa.text("CREATE TABLE records (tenant TEXT, id TEXT)"))
    core.migrate._migrated.clear()  # a new process
    with pytest.raises(SchemaConflictError) as info:
        Destination(engine)
    message = str(info.value)
    assert 'has a table "records" that is not Jobs View\'s: it lacks the columns resource,' in (
        message
    )
    assert "(it has tenant, id)" in message and "JOBSVIEW_DESTINATION_URL" in message
    assert "check that it is running" not in message


def test_another_sql_error_says_the_migration_failed(db_url: str) -> None:
    with get_engine(db_url).begin() as conn:  # a version table of some other shape
        conn.execute(sa.text("CREATE TABLE jobsview_records_version (id INTEGER)"))
    with pytest.raises(ConfigError) as info:
        get_destination(db_url)
    message = str(info.value)
    assert not isinstance(info.value, SchemaConflictError)
    assert message.startswith(f"migrating the destination database {safe_url(db_url)} failed: ")
    assert "version_num" in message and "\n" not in message
    assert "check that it is running" not in message


def test_an_unreachable_destination_still_says_check_that_it_is_running() -> None:
    url = "postgresql+psycopg://u:hunter2@127.0.0.1:1/x"
    with pytest.raises(ConfigError) as info:
        get_destination(url)
    message = str(info.value)
    assert not isinstance(info.value, SchemaConflictError)
    assert message.startswith("cannot open database postgresql+psycopg://u:***@127.0.0.1:1/x: ")
    assert "check that it is running" in message and "hunter2" not in message
