"""Engines: a PostgreSQL session whose client stopped mid-transaction does not hold its
locks for ever."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from core.db import IDLE_IN_TRANSACTION_SECONDS, get_engine
from ledger import get_ledger
from tests.databases import postgres_schema
from tests.factories import queued_job


@pytest.mark.postgres
def test_a_transaction_its_client_abandoned_is_ended_by_the_server() -> None:
    with postgres_schema() as url:
        engine = get_engine(url)
        with engine.connect() as conn:
            shown = conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar()
        engine.dispose()
    assert shown == f"{IDLE_IN_TRANSACTION_SECONDS}s"


@pytest.mark.postgres
def test_reconcile_is_not_held_up_by_a_stopped_process_mid_transaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run's process stopped (SIGSTOP) inside a transaction that holds its job's row: once
    PostgreSQL ends that transaction, reconcile's claim on the job goes through."""
    import core.db

    monkeypatch.setattr(core.db, "IDLE_IN_TRANSACTION_SECONDS", 1)
    with postgres_schema() as url:
        ledger = get_ledger(url)
        job = queued_job(ledger, "frozen")
        stopped = get_engine(url).connect()
        stopped.begin()
        stopped.execute(text("UPDATE jobs SET heartbeat_at = NULL WHERE id = :id"), {"id": job.id})
        began = time.monotonic()  # ...and its process never says another word
        assert ledger.interrupt(job.id, "interrupted: no heartbeat", silent_since=None)
        assert time.monotonic() - began < 10
        stopped.invalidate()
