"""Throwaway databases for tests: a SQLite file, or a fresh PostgreSQL schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from core.db import get_engine

PG_SERVER = os.environ.get(
    "JOBSVIEW_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def postgres_available() -> bool:
    try:
        engine = create_engine(PG_SERVER, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except OperationalError:
        return False


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL whose search_path is a new, empty schema; dropped afterwards."""
    if not postgres_available():
        if os.environ.get("JOBSVIEW_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required but not reachable at {PG_SERVER}")
        pytest.skip(f"PostgreSQL not reachable at {PG_SERVER}")
    schema = f"jv_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_SERVER, poolclass=NullPool)  # survives a server restart
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "postgresql":
        with postgres_schema() as url:
            yield url
    else:
        url = f"sqlite:///{tmp_path / 'jobsview.db'}"
        try:
            yield url
        finally:
            get_engine(url).dispose()
