"""Engines and migrations shared by the ledger and the destination."""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.resources import files
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from sqlalchemy import DateTime, Engine, MetaData, Table, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.types import TypeDecorator

from core.errors import ConfigError
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


def migrate(engine: Engine, script_location: str, version_table: str) -> None:
    """Bring one schema to its newest revision, once per process.

    Concurrent processes are serialised by the database: an advisory lock on
    PostgreSQL, the write lock taken by ``BEGIN IMMEDIATE`` on SQLite.
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
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": version_table}
                    )
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except SQLAlchemyError as exc:
            raise ConfigError(
                f"cannot open database {safe_url(str(engine.url))}: {_first_line(exc)}; "
                "check that it is running and that the URL (JOBSVIEW_DATABASE_URL or "
                "JOBSVIEW_DESTINATION_URL) is right"
            ) from None
        _migrated.add(key)


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

    connection = context.config.attributes["connection"]
    version_table = context.config.get_main_option("version_table") or "alembic_version"
    context.configure(
        connection=connection,
        **migration_options(metadata, version_table, connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()
