"""Sync one chunk: read its window from the source, upsert it, record the outcome."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from connectors.destination import Destination
from connectors.source import RestSource
from core.errors import FatalSourceError, JobsViewError, StopRequested
from core.settings import get_settings
from ledger.models import ChunkStatus
from ledger.store import Ledger
from tasks import deps


@dataclass(frozen=True, slots=True)
class ChunkSummary:
    """What a chunk task returns: never the records themselves."""

    index: int
    status: ChunkStatus
    records: int = 0


class StopCheck:
    """Asks the ledger whether the job should stop, at most once per ``interval``."""

    def __init__(self, ledger: Ledger, job_id: str, interval: float = 1.0) -> None:
        self.ledger, self.job_id, self.interval = ledger, job_id, interval
        self._checked_at = float("-inf")
        self.reason: str | None = None

    def __call__(self) -> bool:
        now = time.monotonic()
        if self.reason is None and now - self._checked_at >= self.interval:
            self._checked_at = now
            self.reason = self.ledger.stop_reason(self.job_id)
        return self.reason is not None


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, JobsViewError) else f"{type(exc).__name__}: {exc}"


def run_chunk(
    ledger: Ledger,
    source: RestSource,
    destination: Destination,
    *,
    job_id: str,
    tenant: str,
    index: int,
    worker: str,
) -> ChunkSummary:
    """One attempt at one chunk. Raises on failure, after noting the error in the ledger."""
    should_stop = StopCheck(ledger, job_id)
    if should_stop():
        ledger.settle_chunk(
            job_id, index, ChunkStatus.CANCELLED, f"not started: {should_stop.reason}"
        )
        return ChunkSummary(index, ChunkStatus.CANCELLED)
    chunk = ledger.get_chunk(job_id, index)
    if chunk.status is ChunkStatus.COMPLETED:
        return ChunkSummary(index, chunk.status, chunk.records)
    ledger.chunk_started(job_id, index, worker)
    try:
        # The window is bounded by the chunk size, so buffering it keeps the
        # write atomic without holding a transaction open across HTTP calls.
        items: list[dict[str, Any]] = []
        for page in source.iter_pages(
            tenant, chunk.resource, chunk.offset, chunk.limit, chunk.updated_since, should_stop
        ):
            items.extend(page)
        if should_stop():
            raise StopRequested(f"stopped before writing: {should_stop.reason}")
        written = destination.write_chunk(tenant, chunk.resource, job_id, items)
    except StopRequested as exc:
        ledger.settle_chunk(job_id, index, ChunkStatus.CANCELLED, str(exc))
        return ChunkSummary(index, ChunkStatus.CANCELLED)
    except Exception as exc:
        if isinstance(exc, FatalSourceError):
            ledger.record_job_error(job_id, str(exc))
        ledger.chunk_error(job_id, index, _describe(exc))
        raise
    ledger.chunk_completed(job_id, index, written)
    return ChunkSummary(index, ChunkStatus.COMPLETED, written)


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
def sync_chunk(job_id: str, tenant: str, index: int, total: int) -> ChunkSummary:
    return run_chunk(
        deps.ledger(),
        deps.source(),
        deps.destination(),
        job_id=job_id,
        tenant=tenant,
        index=index,
        worker=deps.worker_name(),
    )


def chunk_task(settings: Any = None) -> Task[..., ChunkSummary]:
    """``sync_chunk`` with the retry policy from the settings."""
    settings = settings or get_settings()
    delay = settings.chunk_retry_delay_seconds
    return sync_chunk.with_options(
        retries=settings.chunk_retries,
        retry_delay_seconds=[delay * 2**n for n in range(max(settings.chunk_retries, 1))],
        retry_jitter_factor=0.5,
    )
