"""Plan a claimed job, run its chunks on a Prefect task runner, and settle it, whatever
ends the run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prefect.futures import PrefectFuture, as_completed
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import unmapped

from core.errors import ConfigError
from core.settings import Settings, TaskRunnerKind
from flows import adapter, runtime, stopping
from flows.artifacts import ChunkProgress
from flows.settle import settle
from flows.tasks import chunk_task, plan_job, quiet_chunk_success
from ledger.models import ChunkStatus, JobStatus
from ledger.recovery import ancestors
from ledger.store import Ledger

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


def execute(job_id: str, settings: Settings) -> State[Any]:
    """Plan the claimed job, run every unfinished chunk, settle the job, and return its final
    Prefect state.

    Whatever ends the run, the job settles here: the chunks' end, an error, Ctrl-C (once or
    twice), SIGTERM. An early end stops the chunks at their next page (``stopping.stop``),
    waits for them, and settles the job by their outcomes, with the cause.
    """
    ledger = runtime.ledger(settings)
    progress: ChunkProgress | None = None
    with stopping.SignalShield() as shield:
        try:
            plan_job(job_id, settings)
            progress = _run_chunks(ledger, job_id, settings, shield)
        except BaseException as exc:  # while planning: no chunk runs yet
            shield.arm()
            stopping.stop(ledger, job_id, exc)
        job = settle(settings, job_id, progress)
    return adapter.job_state(job)


def _run_chunks(
    ledger: Ledger, job_id: str, settings: Settings, shield: stopping.SignalShield
) -> ChunkProgress | None:
    """Map one task per unfinished chunk and wait for them all; on an early end, stop them
    and still wait, so every chunk's task run ends in its chunk's state (a chunk that had not
    started sees the stop at once and ends Cancelled)."""
    planned = ledger.get_job(job_id)
    pending = [c.index for c in planned.chunks or () if not c.status.finished]
    if planned.status is not JobStatus.RUNNING or not pending or planned.cancel_requested:
        return None
    runtime.logger().info(
        "job %s: %d chunks to run, %d at a time",
        job_id,
        len(pending),
        settings.max_concurrent_chunks,
    )
    # Chunk numbers run across a resume chain: "chunk-5-of-37" in a resume too.
    chain = ancestors(ledger, planned)
    total = (chain or [planned])[-1].total_chunks
    progress = ChunkProgress(planned)
    with make_task_runner(settings) as runner, progress, quiet_chunk_success():
        futures = runner.map(
            chunk_task(settings),
            {
                "job_id": job_id,
                "tenant": planned.tenant,
                "index": pending,
                "total": total,
                "settings": unmapped(settings),  # a model would be mapped over
            },
        )
        index_of = {f.task_run_id: i for f, i in zip(futures, pending, strict=True)}
        seen: set[Any] = set()

        def record(future: PrefectFuture[Any]) -> ChunkStatus:
            future.wait()  # the local final state: the API's copy may lag or be lost
            seen.add(future.task_run_id)
            state = future.state
            status = adapter.chunk_status(state.type, state.name)
            if status in (ChunkStatus.FAILED, ChunkStatus.CANCELLED):
                index = index_of[future.task_run_id]
                ledger.settle_chunk(job_id, index, status, _failure_text(state))
            return status

        try:
            for future in as_completed(futures):
                progress.chunk_done(record(future))
        except BaseException as exc:
            shield.arm()
            stopping.stop(ledger, job_id, exc)
            for future in futures:
                if future.task_run_id not in seen:
                    record(future)
    return progress
