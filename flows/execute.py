"""Run a planned job's chunks on a Prefect task runner and settle the job.

Shared by ``sync_job`` and ``resume_job``: both plan differently, then end here.
"""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, tags
from prefect.futures import as_completed
from prefect.states import State
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from core.errors import ConfigError
from core.settings import Settings, TaskRunnerKind, get_settings
from flows.artifacts import ChunkProgress, publish_job
from flows.watcher import watch_job
from ledger import adapter
from ledger.models import ChunkStatus, Job, JobStatus
from ledger.recovery import root_of
from ledger.store import Ledger
from tasks import deps
from tasks.prefect_api import job_tags
from tasks.sync_chunk import chunk_task


def make_task_runner(settings: Settings) -> TaskRunner[Any]:
    if settings.task_runner is TaskRunnerKind.DASK:
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError:
            raise ConfigError(
                "JOBSVIEW_TASK_RUNNER=dask needs prefect-dask: pip install 'jobsview[dask]'"
            ) from None
        address = settings.dask_address
        return (
            DaskTaskRunner(address=address)
            if address
            else DaskTaskRunner(
                cluster_kwargs={
                    "n_workers": settings.max_concurrent_chunks,
                    "threads_per_worker": 1,
                }
            )
        )
    return ThreadPoolTaskRunner(max_workers=settings.max_concurrent_chunks)


def _failure_text(state: State[Any]) -> str:
    exc = state.result(raise_on_failure=False)
    return str(exc) if isinstance(exc, BaseException) else (state.message or state.name or "")


def execute(job: Job) -> State[Any]:
    """Run every unfinished chunk of ``job``, settle it, and return its final Prefect state."""
    settings = get_settings()
    ledger = deps.ledger()
    log = get_run_logger()
    planned = ledger.get_job(job.id)
    pending = [c.index for c in planned.chunks or () if not c.status.finished]
    if planned.status is JobStatus.RUNNING and pending and not planned.cancel_requested:
        log.info(
            "job %s: %d chunks to run, %d at a time",
            job.id,
            len(pending),
            settings.max_concurrent_chunks,
        )
        task = chunk_task(settings)
        interrupted: BaseException | None = None
        total = max(c.index for c in planned.chunks or ())
        with (
            watch_job(ledger, job.id, planned.flow_run_id, settings.stale_after_seconds / 4),
            tags(*job_tags(job.tenant, job.sync_type)),
            make_task_runner(settings) as runner,
            ChunkProgress(planned) as progress,
        ):
            try:
                futures = runner.map(
                    task,  # type: ignore[arg-type]
                    {"job_id": job.id, "tenant": job.tenant, "index": pending, "total": total},
                )
                index_of = {f.task_run_id: i for f, i in zip(futures, pending, strict=True)}
                for future in as_completed(futures):
                    future.wait()  # the local final state: the API's copy may lag or be lost
                    state = future.state
                    status = adapter.chunk_status(state.type, state.name)
                    if status in (ChunkStatus.FAILED, ChunkStatus.CANCELLED):
                        index = index_of[future.task_run_id]
                        ledger.settle_chunk(job.id, index, status, _failure_text(state))
                    progress.chunk_done(status)
            except BaseException as exc:
                # Ctrl-C, or SIGTERM from a Prefect worker cancelling the run: stop the
                # chunks at their next page (leaving the block waits for them), then settle.
                ledger.request_cancel(job.id)
                log.warning(
                    "job %s interrupted (%s): stopping its chunks", job.id, type(exc).__name__
                )
                interrupted = exc
        if interrupted is not None:
            finish(ledger, job.id)
            raise interrupted
    return finish(ledger, job.id)


def finish(ledger: Ledger, job_id: str) -> State[Any]:
    """Settle a job whose chunks have stopped, move the watermark, and pick its final state."""
    job = ledger.get_job(job_id, with_chunks=False)
    if not job.status.finished:
        open_chunks = job.counts[ChunkStatus.PENDING] + job.counts[ChunkStatus.RUNNING]
        if open_chunks:
            reason = (
                "cancelled" if job.cancel_requested else f"not run: {job.error or 'job stopped'}"
            )
            ledger.settle_open_chunks(job_id, ChunkStatus.CANCELLED, reason)
            job = ledger.get_job(job_id, with_chunks=False)
        status = adapter.settle(
            job.counts, cancelled=job.cancel_requested, job_error=job.error is not None
        )
        ledger.finish_job(job_id, status)
        if status is JobStatus.COMPLETED:
            # A resume completes its chain: the watermark is when the chain was planned.
            planned_at = root_of(ledger, job).created_at
            ledger.set_watermarks(job.tenant, job.resources, planned_at, job.id)
    job = ledger.get_job(job_id)
    get_run_logger().info(
        "job %s %s: %d/%d chunks completed, %d records",
        job.id,
        job.status.value,
        job.counts[ChunkStatus.COMPLETED],
        job.total_chunks,
        job.records_synced,
    )
    publish_job(job)
    return adapter.final_state(job)
