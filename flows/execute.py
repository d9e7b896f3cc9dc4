"""Run a planned job's chunks on a Prefect task runner, then settle the job."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prefect.futures import as_completed
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import unmapped

from core.errors import ConfigError, JobsViewError
from core.settings import Settings, TaskRunnerKind
from flows import adapter, runtime
from flows.artifacts import ChunkProgress, publish_job
from flows.events import emit_outcome
from flows.tasks import chunk_task, quiet_chunk_success
from ledger.models import ChunkStatus, Drift, Job, JobStatus, job_outcome
from ledger.recovery import ancestors
from ledger.render import drift_text, progress_text
from ledger.store import Ledger
from tasks.verify import drift, stored_records

if TYPE_CHECKING:
    from prefect_dask import DaskTaskRunner


def make_task_runner(settings: Settings) -> ThreadPoolTaskRunner | DaskTaskRunner:
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


def execute(job: Job, settings: Settings) -> State[Any]:
    """Run every unfinished chunk of ``job``, settle it, and return its final Prefect state."""
    ledger = runtime.ledger(settings)
    planned = ledger.get_job(job.id)
    chain = ancestors(ledger, planned)  # the jobs this one resumes, nearest first
    pending = [c.index for c in planned.chunks or () if not c.status.finished]
    progress = ChunkProgress(planned)
    if planned.status is JobStatus.RUNNING and pending and not planned.cancel_requested:
        runtime.logger().info(
            "job %s: %d chunks to run, %d at a time",
            job.id,
            len(pending),
            settings.max_concurrent_chunks,
        )
        task = chunk_task(settings)
        interrupted: BaseException | None = None
        # Chunk numbers run across a resume chain: "chunk-5-of-37" in a resume too.
        total = (chain or [planned])[-1].total_chunks
        with make_task_runner(settings) as runner, progress, quiet_chunk_success():
            try:
                futures = runner.map(
                    task,
                    {
                        "job_id": job.id,
                        "tenant": job.tenant,
                        "index": pending,
                        "total": total,
                        "settings": unmapped(settings),  # a model would be mapped over
                    },
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
                runtime.logger().warning(
                    "job %s interrupted (%s): stopping its chunks", job.id, type(exc).__name__
                )
                interrupted = exc
        if interrupted is not None:
            finish(ledger, job.id, progress, chain, settings)
            raise interrupted
    return finish(ledger, job.id, progress, chain, settings)


def _stored(
    settings: Settings, job: Job, chain: list[Job], status: JobStatus
) -> tuple[int | None, dict[str, Drift] | None]:
    """Distinct records the job stored and, for a completed full sync, its drift."""
    destination = runtime.destination(settings)
    try:
        records = stored_records(destination, job, chain)
        if status is not JobStatus.COMPLETED:
            return records, None
        return records, drift(runtime.source(settings), destination, job, chain)
    except JobsViewError as exc:
        runtime.logger().warning("job %s: could not check what it stored: %s", job.id, exc)
        return None, None


def finish(
    ledger: Ledger, job_id: str, progress: ChunkProgress, chain: list[Job], settings: Settings
) -> State[Any]:
    """Settle a job whose chunks have stopped, record what it stored (and any drift), move the
    watermark, report the outcome (the artifacts and the event), and return its final state."""
    job = ledger.get_job(job_id, with_chunks=False)
    if not job.status.finished:
        open_chunks = job.counts[ChunkStatus.PENDING] + job.counts[ChunkStatus.RUNNING]
        if open_chunks:
            reason = (
                "cancelled" if job.cancel_requested else f"not run: {job.error or 'job stopped'}"
            )
            ledger.settle_open_chunks(job_id, ChunkStatus.CANCELLED, reason)
            job = ledger.get_job(job_id, with_chunks=False)
        status = job_outcome(
            job.counts, cancelled=job.cancel_requested, job_error=job.error is not None
        )
        records, found = _stored(settings, job, chain, status)
        settled = ledger.finish_job(job_id, status, records=records, drift=found)
        if settled.drift:
            runtime.logger().warning("job %s: %s", job_id, drift_text(settled))
        if status is JobStatus.COMPLETED:
            # A resume completes its chain: the watermark is when the chain was planned.
            planned_at = (chain or [job])[-1].created_at
            ledger.set_watermarks(job.tenant, job.resources, planned_at, job.id)
    job = ledger.get_job(job_id)
    runtime.logger().info(
        "job %s %s: %s; %s records",
        job.id,
        job.status.value,
        progress_text(job),
        f"{job.records_synced:,}",
    )
    progress.finish(job)
    publish_job(job)
    emit_outcome(job, resume_depth=len(chain))
    return adapter.job_state(job)
