"""Each schema's Alembic migrations, run once per process on first use, and the one clear
error when a table they would create is someone else's."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from importlib.resources import files
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, inspect, text
from sqlalchemy.exc import DBAPIError, NoSuchTableError, SQLAlchemyError

from core.db import first_line, reader, safe_url
from core.errors import ConfigError, SchemaConflictError

_migrated: set[tuple[str, str]] = set()
_migrate_lock = threading.Lock()


# The setting that names each database, and what messages call that database.
LEDGER_SETTING = "JOBSVIEW_DATABASE_URL"
DESTINATION_SETTING = "JOBSVIEW_DESTINATION_URL"
_DATABASES = {
    LEDGER_SETTING: "the ledger database",
    DESTINATION_SETTING: "the destination database",
}


def migrate(
    engine: Engine, script_location: str, version_table: str, *, setting: str = LEDGER_SETTING
) -> None:
    """Bring one schema to its newest revision, once per process.

    Concurrent processes are serialised by the database: an advisory lock on
    PostgreSQL, the write lock taken by ``BEGIN IMMEDIATE`` on SQLite. ``setting`` is
    the one that names this database, for the messages when a table is in the way.
    """
    key = (str(engine.url), version_table)
    with _migrate_lock:
        if key in _migrated:
            return
        if _at_head(engine, script_location, version_table):
            _migrated.add(key)
            return
        from alembic import command  # a tenth of a second: only when there is work to do
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", script_location)
        cfg.set_main_option("version_table", version_table)
        cfg.attributes["setting"] = setting
        try:
            conn = engine.connect()
        except SQLAlchemyError as exc:
            raise _unreachable(engine, exc) from None
        failure: SQLAlchemyError | None = None
        with conn:
            try:
                with conn.begin():
                    if conn.dialect.name == "postgresql":
                        conn.execute(
                            text("SELECT pg_advisory_xact_lock(hashtext(:t))"),
                            {"t": version_table},
                        )
                    cfg.attributes["connection"] = conn
                    # The tree's env.py (run_migrations_online) refuses tables in the way.
                    command.upgrade(cfg, "head")
            except SQLAlchemyError as exc:
                if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                    raise _unreachable(engine, exc) from None
                failure = exc
        if failure is not None:
            metadata = cfg.attributes.get("target_metadata")
            raise _migration_error(engine, metadata, version_table, setting, failure) from None
        _migrated.add(key)


def _unreachable(engine: Engine, exc: SQLAlchemyError) -> ConfigError:
    return ConfigError(
        f"cannot open database {safe_url(str(engine.url))}: {first_line(exc)}; "
        "check that it is running and that the URL (JOBSVIEW_DATABASE_URL or "
        "JOBSVIEW_DESTINATION_URL) is right"
    )


# How PostgreSQL and SQLite say that CREATE TABLE found its name taken.
_ALREADY_EXISTS = re.compile(r'^(?:relation|table) "?([^"\s]+)"? already exists')


def _migration_error(
    engine: Engine,
    metadata: MetaData | None,
    version_table: str,
    setting: str,
    exc: SQLAlchemyError,
) -> ConfigError:
    """What a failed migration tells the operator: which table is in the way, when that is
    why it failed (a check on a fresh connection, paid only here), else the driver's line."""
    line = first_line(exc)
    taken = _ALREADY_EXISTS.match(line)
    if metadata is not None and taken and taken[1] in metadata.tables:
        try:
            with reader(engine).connect() as conn:
                versioned = inspect(conn).has_table(version_table)
                found = _foreign_tables(
                    conn, [metadata.tables[taken[1]]], version_table, versioned=versioned
                )
        except SQLAlchemyError:
            found = []
        if found:
            return _conflict_error(engine, setting, found)
    where = _DATABASES.get(setting, "the database")
    return ConfigError(f"migrating {where} {safe_url(str(engine.url))} failed: {line}")


def _foreign_tables(
    conn: Connection, tables: Iterable[Table], version_table: str, *, versioned: bool
) -> list[tuple[str, str]]:
    """The ``tables`` already in the database that Jobs View did not create there, each with
    what is wrong with it; ``versioned`` says whether ``version_table`` exists."""
    inspector = inspect(conn)
    # CREATE TABLE goes to the first schema of the search path; tables further on are no bar.
    schema = (
        conn.execute(text("SELECT current_schema()")).scalar()
        if conn.dialect.name == "postgresql"
        else None
    )
    found = []
    for table in tables:
        if not inspector.has_table(table.name, schema=schema):
            continue
        try:
            has = [c["name"] for c in inspector.get_columns(table.name, schema=schema)]
        except NoSuchTableError:
            has = []
        lacks = [c.name for c in table.columns if c.name not in has]
        if lacks:
            wrong = f"lacks the columns {', '.join(lacks)} (it has {', '.join(has) or 'none'})"
        elif versioned:
            wrong = (
                f"has Jobs View's columns, but {version_table} says Jobs View has not "
                "created it yet"
            )
        else:
            wrong = (
                f"has Jobs View's columns, but there is no {version_table} table to say "
                "Jobs View created it"
            )
        found.append((table.name, wrong))
    return found


def _conflict_error(
    engine: Engine, setting: str, found: list[tuple[str, str]]
) -> SchemaConflictError:
    where = f"{_DATABASES.get(setting, 'the database')} {safe_url(str(engine.url))}"
    if len(found) == 1:
        [(name, wrong)] = found
        what, them = f'a table "{name}" that is not Jobs View\'s: it {wrong}', "that table"
    else:
        listed = "; ".join(f'"{name}" {wrong}' for name, wrong in found)
        what, them = f"tables that are not Jobs View's: {listed}", "those tables"
    return SchemaConflictError(
        f"{where} has {what}; point {setting} at another database or schema, or rename {them}"
    )


_REVISION = re.compile(r"^(down_revision|revision) = ['\"]([^'\"]+)['\"]", re.MULTILINE)


def _head(script_location: str) -> str | None:
    """The one head revision of a migration tree (``package:folder``), read from the text of
    its version files; None when that is not clear-cut (alembic then decides)."""
    package, _, folder = script_location.partition(":")
    revisions: set[str] = set()
    parents: set[str | None] = set()
    for path in files(package).joinpath(folder, "versions").iterdir():
        if path.name.endswith(".py") and not path.name.startswith("_"):
            found = {m[1]: m[2] for m in _REVISION.finditer(path.read_text())}
            if "revision" not in found:
                return None
            revisions.add(found["revision"])
            parents.add(found.get("down_revision"))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _at_head(engine: Engine, script_location: str, version_table: str) -> bool:
    """Whether the schema is already at its newest revision: one SELECT, no alembic."""
    head = _head(script_location)
    if head is None:
        return False
    try:
        with reader(engine).connect() as conn:
            found = conn.execute(text(f"SELECT version_num FROM {version_table}")).scalars()
            return list(found) == [head]
    except SQLAlchemyError:  # no version table yet, or no database: alembic says why
        return False


def migration_options(metadata: MetaData, version_table: str, dialect: str) -> dict[str, Any]:
    """How alembic sees one migration tree: ``metadata`` is the schema its revisions must build.

    The ledger and the records share a database, so each tree looks at its own tables only.
    """
    return {
        "target_metadata": metadata,
        "version_table": version_table,
        "render_as_batch": dialect == "sqlite",
        "include_name": lambda name, kind, _parents: kind != "table" or name in metadata.tables,
    }


def run_migrations_online(metadata: MetaData) -> None:
    """Body of each migration tree's ``env.py``: run on the connection ``migrate`` passes."""
    from alembic import context

    attributes = context.config.attributes
    connection = attributes["connection"]
    version_table = context.config.get_main_option("version_table") or "alembic_version"
    attributes["target_metadata"] = metadata  # for ``migrate``'s messages, should this fail
    if not inspect(connection).has_table(version_table):
        # A first migration creates every table: any already there is someone else's.
        found = _foreign_tables(
            connection, metadata.tables.values(), version_table, versioned=False
        )
        if found:
            raise _conflict_error(
                connection.engine, attributes.get("setting", LEDGER_SETTING), found
            )
    context.configure(
        connection=connection,
        **migration_options(metadata, version_table, connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()
