"""A chunk's success is its task run's state and the job's progress, not a log line each;
so is a chunk that never started because its job was stopping."""

from __future__ import annotations

import logging

import pytest

from flows.tasks import quiet_chunk_success


def _log(level: int, name: str, message: str) -> None:
    logging.getLogger("prefect.task_runs").log(level, message, extra={"task_run_name": name})


@pytest.mark.filterwarnings("ignore:Logger 'prefect.task_runs' attempted to send logs")
def test_only_chunk_successes_are_left_out(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="prefect.task_runs")
    with quiet_chunk_success():
        _log(logging.INFO, "chunk-3-of-9", "Finished in state Completed('500 records')")
        _log(logging.INFO, "chunk-4-of-9", "Finished in state Cancelled('stopped')")
        # a chunk that never started: the job says once why it stopped
        _log(logging.ERROR, "chunk-8-of-9", "Finished in state Cancelled('not started: cancel')")
        _log(logging.ERROR, "chunk-5-of-9", "Finished in state Failed('boom')")
        _log(logging.INFO, "plan-job", "Finished in state Completed()")
    _log(logging.INFO, "chunk-6-of-9", "Finished in state Completed('500 records')")
    assert [(r.task_run_name, r.levelname) for r in caplog.records] == [  # type: ignore[attr-defined]
        ("chunk-4-of-9", "INFO"),
        ("chunk-5-of-9", "ERROR"),
        ("plan-job", "INFO"),
        ("chunk-6-of-9", "INFO"),  # outside a job's run, nothing is left out
    ]
