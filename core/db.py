"""Engines and migrations shared by the ledger and the destination."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from sqlalchemy import (
    DateTime,
    Engine,
    Table,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    OperationalError,
    SQLAlchemyError,
)
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
                log.warning("database unavailable (%s); retrying in %.1fs", first_line(exc), delay)
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
    else:
        _configure_postgresql(engine)
    return engine


# Our transactions never wait on their client. One that does belongs to a process that was
# stopped (SIGSTOP, a frozen machine) mid-transaction: the server ends it after this long, so
# its row locks cannot hold up reconcile settling its job, or a resume writing its records.
IDLE_IN_TRANSACTION_SECONDS = 30


def _configure_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cursor:
            cursor.execute(
                f"SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION_SECONDS}s'"
            )
        dbapi_conn.commit()


def upsert(table: Table, dialect_name: str, keys: list[str]) -> Insert:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE`` of every other column."""
    from sqlalchemy.dialects import postgresql, sqlite  # only writers pay for these imports

    dialect = postgresql if dialect_name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    update = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    return stmt.on_conflict_do_update(index_elements=keys, set_=update)


def first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
