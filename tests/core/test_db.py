"""Engines: a PostgreSQL session whose client stopped mid-transaction does not hold its
locks for ever."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core.db import IDLE_IN_TRANSACTION_SECONDS, get_engine
from tests.databases import postgres_schema


@pytest.mark.postgres
def test_a_transaction_its_client_abandoned_is_ended_by_the_server() -> None:
    with postgres_schema() as url:
        engine = get_engine(url)
        with engine.connect() as conn:
            shown = conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar()
        engine.dispose()
    assert shown == f"{IDLE_IN_TRANSACTION_SECONDS}s"
