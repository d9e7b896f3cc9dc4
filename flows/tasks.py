"""The Prefect tasks a job runs: thin wrappers over ``tasks/``, their final states from the adapter.

Both take ids and the flow run's settings, so any process that reaches the databases and the
source (a Dask worker, say) can run them: each opens what it needs through ``flows.runtime``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from core.errors import ConfigError, JobStateError, JobsViewError
from core.settings import Settings
from flows import adapter, runtime
from ledger.models import Job
from tasks.plan_job import plan
from tasks.sync_chunk import ChunkSummary, run_chunk


@task(name="plan-job", task_run_name="plan-job", cache_policy=NO_CACHE)
def plan_job(job_id: str, settings: Settings) -> Job:
    """Count each resource through the API and record the chunks (or copy a parent's).

    A job settled behind the run's back while it planned is returned as it is, with one
    clear line in the run's log, so the flow ends by its status instead of a traceback.
    """
    ledger = runtime.ledger(settings)
    lag = timedelta(seconds=settings.watermark_lag_seconds)
    try:
        # Before any chunk: a destination that cannot take records fails the job at once.
        runtime.destination(settings)
    except ConfigError as exc:
        ledger.record_job_error(job_id, str(exc))
        return ledger.get_job(job_id, with_chunks=False)
    try:
        return plan(
            ledger,
            runtime.source(settings),
            job_id,
            watermark_lag=lag,
            max_chunks=settings.max_chunks_per_job,
        )
    except JobStateError as exc:
        job = ledger.get_job(job_id, with_chunks=False)
        if not job.status.finished:
            raise  # another run has it: not this run's to settle
        runtime.logger().warning("%s", exc)
        return job


def should_retry(_task: Task[..., Any], _run: TaskRun, state: State[Any]) -> bool:
    """Retry unless the error's type says retrying cannot help."""
    try:
        state.result()
    except JobsViewError as exc:
        return exc.retryable
    except Exception:
        return True
    return False


@task(
    name="sync-chunk",
    task_run_name="chunk-{index}-of-{total}",
    cache_policy=NO_CACHE,
    retry_condition_fn=should_retry,
)
def sync_chunk(
    job_id: str, tenant: str, index: int, total: int, settings: Settings
) -> State[ChunkSummary]:
    """Sync one chunk; the task run ends Completed, or Cancelled if the job was stopped."""
    summary = run_chunk(
        runtime.ledger(settings),
        runtime.source(settings),
        runtime.destination(settings),
        job_id=job_id,
        tenant=tenant,
        index=index,
        worker=runtime.worker_name(),
        edge=3 * settings.margin,
    )
    return adapter.chunk_state(summary)


def chunk_task(settings: Settings) -> Task[..., State[ChunkSummary]]:
    """``sync_chunk`` with the retry policy from the settings."""
    delay = settings.chunk_retry_delay_seconds
    return sync_chunk.with_options(
        retries=settings.chunk_retries,
        retry_delay_seconds=[delay * 2**n for n in range(max(settings.chunk_retries, 1))],
        retry_jitter_factor=0.5,
    )


class _QuietChunkSuccess(logging.Filter):
    """Drop a chunk task run's "Finished in state Completed(...)" line, and the line of a
    chunk that never started because the job was stopping.

    A job of a thousand chunks would print and ship a thousand of them, which cost about
    3 ms each, and say no more than the task run's state and the job's progress already do
    (a stopped job says once why it stopped). Failures, and chunks stopped while they ran,
    keep their lines.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(getattr(record, "task_run_name", "")).startswith("chunk-"):
            return True
        message = str(record.msg)
        return not (
            message.startswith("Finished in state Completed(")
            or message.startswith("Finished in state Cancelled('not started: ")
        )


@contextmanager
def quiet_chunk_success() -> Iterator[None]:
    """While chunks run here, their task runs' success lines are not logged."""
    logger, quiet = logging.getLogger("prefect.task_runs"), _QuietChunkSuccess()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)
