"""Engines and migrations shared by the ledger and the destination."""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from importlib.resources import files
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    MetaData,
    Table,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchTableError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.types import TypeDecorator

from core.errors import ConfigError, SchemaConflictError
from core.redact import redact_url

if TYPE_CHECKING:
    from sqlalchemy.sql.dml import Insert


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return redact_url(url)


# An execution option for connections that only read (see ``reader``).
READ_ONLY = "jobsview_read_only"


def reader(engine: Engine) -> Engine:
    """The engine for transactions that never write: on SQLite they take no write lock."""
    return engine.execution_options(**{READ_ONLY: True})


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # WAL keeps NORMAL safe from corruption; only a power cut may lose the last commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front: deferred transactions that later write
        # fail with "database is locked" instead of waiting their turn. Readers need no
        # lock in WAL mode, so a page never waits behind a chunk's write.
        reading = conn.get_execution_options().get(READ_ONLY)
        conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


SUPPORTED_BACKENDS = ("sqlite", "postgresql")
DB_RETRY_SECONDS = 30.0

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger(__name__)


def _is_transient(exc: BaseException) -> bool:
    # A restarting server, a dropped connection, or SQLite's write lock held too long.
    return isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def retry_db(fn: Callable[P, R]) -> Callable[P, R]:
    """Re-run a whole unit of database work while the database is briefly away."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        deadline = time.monotonic() + DB_RETRY_SECONDS
        delay = 0.2
        while True:
            try:
                return fn(*args, **kwargs)
            except DBAPIError as exc:
                if not _is_transient(exc) or time.monotonic() + delay > deadline:
                    raise
                log.warning("database unavailable (%s); retrying in %.1fs", _first_line(exc), delay)
                time.sleep(delay)
                delay = min(delay * 2, 3.0)

    return wrapper


@functools.cache
def get_engine(url: str) -> Engine:
    """One pooled engine per URL per process."""
    parsed = make_url(url)
    if parsed.get_backend_name() not in SUPPORTED_BACKENDS:
        raise ConfigError(
            f"unsupported database {safe_url(url)}: use sqlite:///path.db or "
            "postgresql+psycopg://user@host:5432/db"
        )
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    elif parsed.get_backend_name() == "postgresql":
        # A server restart drops pooled connections: test each before use. A SQLite file
        # cannot drop one, and a ping per checkout cost it a query.
        kwargs["pool_pre_ping"] = True
        kwargs["connect_args"] = {"connect_timeout": 10}
    try:
        engine = create_engine(parsed, **kwargs)
    except (SQLAlchemyError, ImportError) as exc:
        raise ConfigError(f"cannot use database {safe_url(url)}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        _configure_sqlite(engine)
    return engine


def upsert(table: Table, dialect_name: str, keys: list[str]) -> Insert:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE`` of every other column."""
    from sqlalchemy.dialects import postgresql, sqlite  # only writers pay for these imports

    dialect = postgresql if dialect_name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    update = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    return stmt.on_conflict_do_update(index_elements=keys, set_=update)


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
        f"cannot open database {safe_url(str(engine.url))}: {_first_line(exc)}; "
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
    line = _first_line(exc)
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


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


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
