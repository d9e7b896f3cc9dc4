"""The one settle path's reporting: an outcome is sent once, again when it could not be, and
never stopped by a broken log stream; a run stops as a cancel only when one was asked for."""

from __future__ import annotations

import logging
import os
import threading
from datetime import timedelta

import pytest
from prefect.exceptions import TerminationSignal
from prefect.logging.handlers import PrefectConsoleHandler

from flows import runtime, settle, stopping
from flows.events import outcome_event, outcome_event_id
from flows.prefect_api import run_origin
from ledger import ChunkStatus, JobStatus
from tests.factories import queued_job
from tests.support import SyncEnv


def test_an_outcome_that_could_not_be_sent_is_sent_by_reconciles_sweep(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []

    def away(event: object) -> None:
        raise ConnectionError("Prefect API away")

    monkeypatch.setattr(settle, "emit_outcome", away)
    job = sync_env.sync(tenant="globex", sync_type="full")
    assert job.status is JobStatus.COMPLETED
    assert not sync_env.ledger.get_job(job.id).outcome_reported
    monkeypatch.setattr(settle, "emit_outcome", lambda event: sent.append(str(event.id)))
    monkeypatch.setattr(settle, "REPORT_GRACE", timedelta(0))
    assert settle.reconcile(sync_env.settings) == []  # nothing died: only the sweep acts
    assert sent == [str(outcome_event_id(job.id))]
    assert sync_env.ledger.get_job(job.id).outcome_reported
    settle.reconcile(sync_env.settings)
    assert len(sent) == 1  # reported once


def test_an_outcome_event_has_one_id_per_job_whoever_sends_it(sync_env: SyncEnv) -> None:
    job = sync_env.sync(tenant="globex", sync_type="full")
    events = [
        outcome_event(job, resume_depth=0, origin=run_origin(job.flow_run_id)) for _ in range(2)
    ]
    assert events[0].id == events[1].id == outcome_event_id(job.id)
    assert events[0].event == "jobsview.job.completed"
    assert events[0].resource["jobsview.records-synced"] == "300"


def test_a_settled_job_is_not_settled_again(sync_env: SyncEnv) -> None:
    job = sync_env.sync(tenant="globex", sync_type="full")
    again = settle.settle(sync_env.settings, job.id)
    assert (again.status, again.finished_at, again.records_synced) == (
        job.status,
        job.finished_at,
        job.records_synced,
    )


@pytest.mark.parametrize(
    ("exc", "cancels"),
    [
        (KeyboardInterrupt(), True),
        (TerminationSignal(15), False),
        (SystemExit(1), False),
        (RuntimeError("boom"), False),
    ],
)
def test_a_run_stops_as_a_cancel_only_when_one_was_asked_for(
    sync_env: SyncEnv, exc: BaseException, cancels: bool
) -> None:
    ledger = sync_env.ledger
    job = queued_job(ledger, "globex")
    stopping.stop(ledger, job.id, exc)
    stopped = ledger.get_job(job.id, with_chunks=False)
    assert stopped.cancel_requested is cancels
    assert (stopped.interrupted is None) is cancels
    if not cancels:
        assert stopped.interrupted == f"interrupted: {stopping.describe(exc)}"


def test_sigterm_to_an_operators_command_is_a_cancel(sync_env: SyncEnv) -> None:
    ledger = sync_env.ledger
    job = queued_job(ledger, "globex")
    with runtime.signals_cancel():
        assert stopping.asked_to_cancel(ledger, job.id, TerminationSignal(15))
    assert not stopping.asked_to_cancel(ledger, job.id, TerminationSignal(15))
    ledger.request_cancel(job.id)  # asked from elsewhere (the web, the CLI)
    assert stopping.asked_to_cancel(ledger, job.id, TerminationSignal(15))


def test_an_unadopted_claim_released_by_ctrl_c_is_cancelled_otherwise_failed(
    sync_env: SyncEnv,
) -> None:
    from flows.claim import release_unstarted

    ledger = sync_env.ledger
    by_operator, by_error = queued_job(ledger, "globex"), queued_job(ledger, "acme")
    release_unstarted(sync_env.settings, by_operator.id, KeyboardInterrupt())
    release_unstarted(sync_env.settings, by_error.id, "the Prefect API is away")
    cancelled = ledger.get_job(by_operator.id)
    failed = ledger.get_job(by_error.id)
    assert cancelled.status is JobStatus.CANCELLED and cancelled.outcome_reported
    assert failed.status is JobStatus.FAILED
    assert failed.error == "the flow run did not start: the Prefect API is away"
    assert sum(failed.counts.values()) == failed.counts[ChunkStatus.PENDING] == 0


def test_a_broken_log_pipe_quiets_the_console_instead_of_ending_the_run() -> None:
    """A worker that dies takes the read end of its runs' log pipe with it: rich answers the
    next line with SystemExit, unless the console is guarded."""
    read_end, write_end = os.pipe()
    stream = os.fdopen(write_end, "w")
    handler = PrefectConsoleHandler(stream=stream)
    logger = logging.getLogger("jobsview.test.broken-pipe")
    logger.addHandler(handler)
    logger.propagate = False
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        runtime.guard_console()
        os.close(read_end)  # the worker is gone
        done = threading.Event()

        def log_lines() -> None:
            for n in range(3):
                logger.warning("line %d after the reader died", n)
            done.set()

        thread = threading.Thread(target=log_lines)
        thread.start()
        thread.join(10)
        assert done.is_set(), "a log line to a broken pipe ended the thread"
        assert handler.console.quiet
    finally:
        root.removeHandler(handler)
        logger.removeHandler(handler)
        handler.close()
