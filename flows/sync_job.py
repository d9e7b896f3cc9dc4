"""The sync job flow: claim the job, plan its chunks, run one task per chunk, settle it.

A resume is a run of the same flow with ``resume_of``: it re-runs, with the same windows,
the chunks of that job that did not complete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from prefect import Flow, tags
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.utilities.callables import get_call_parameters

from chunking import SyncSize
from core.errors import JobConflictError, JobStateError
from core.validation import SyncType
from flows import adapter, runtime
from flows.claim import claim, release_unstarted
from flows.execute import execute
from flows.prefect_api import job_tags, tag_flow_run
from flows.pressure import ensure_rate_limit
from flows.watcher import heartbeat_every, watch_job
from ledger.render import describe_previous


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _flow_run_name() -> str:
    params = flow_run.parameters
    return f"{params['tenant']}-{params.get('sync_type', 'full')}-{timestamp()}"


class SyncJobFlow(Flow[..., Any]):
    """A flow that, called directly, claims its job before its flow run exists.

    So a run the one-run rule refuses, or one with bad input, leaves nothing in Prefect:
    the call raises at once. Deployment runs go through the flow body's own claim.
    """

    def __call__(
        self,
        *args: Any,
        return_state: bool = False,
        wait_for: Iterable[PrefectFuture[Any]] | None = None,
        **kwargs: Any,
    ) -> Any:
        params = get_call_parameters(self.fn, args, kwargs)
        settings = runtime.settings()
        ledger = runtime.ledger(settings)
        job = claim(ledger, settings, **params)
        params["job_id"] = job.id
        try:
            # The heartbeat starts at the claim: the flow run's own watch joins this one.
            with (
                runtime.use_settings(settings),  # the flow body's: read once, here
                watch_job(ledger, job.id, None, heartbeat_every(settings)),
                tags(*job_tags(job.tenant, job.sync_type, job.parent_id)),
            ):
                result = super().__call__(return_state=return_state, wait_for=wait_for, **params)
        except BaseException as exc:
            release_unstarted(settings, job.id, exc)
            raise
        release_unstarted(settings, job.id, "Prefect did not run it")
        return result

    @classmethod
    def decorate(cls, **options: Any) -> Callable[[Callable[..., Any]], SyncJobFlow]:
        """Like ``@flow(...)``, for this class."""
        return lambda fn: cls(fn, **options)

    def with_options(self, **kwargs: Any) -> SyncJobFlow:
        new = super().with_options(**kwargs)
        new.__class__ = SyncJobFlow
        return new  # type: ignore[return-value]


@SyncJobFlow.decorate(name="sync-job", flow_run_name=_flow_run_name)
def sync_job(
    tenant: str,
    sync_type: SyncType = SyncType.FULL,
    sync_size: SyncSize | None = None,
    job_id: str | None = None,
    resume_of: str | None = None,
) -> Any:
    """Sync one tenant's resources from the source API into the destination.

    Returns the finished ``Job``. A job that does not complete raises ``JobFailedError``,
    ``JobIncompleteError`` or ``JobCancelledError``, each carrying the job;
    ``return_state=True`` gives the Prefect state instead. ``resume_of`` re-runs the chunks
    of that job that did not complete; ``job_id`` adopts a job its caller claimed.
    """
    runtime.guard_console()
    settings = runtime.settings()
    ledger = runtime.ledger(settings)
    log = runtime.logger()
    try:
        job = claim(
            ledger,
            settings,
            tenant=tenant,
            sync_type=sync_type,
            sync_size=sync_size,
            job_id=job_id,
            resume_of=resume_of,
        )
    except (JobConflictError, JobStateError) as exc:
        log.warning("refused: %s", exc)
        return adapter.refused_state(exc)
    run_id = str(flow_run.id)
    if not ledger.adopt(job.id, run_id):
        late = JobStateError(f"job {job.id} was settled before this flow run could adopt it")
        log.warning("refused: %s", late)
        return adapter.refused_state(late)
    # Beats from the claim (a deployment run's) until the flow ends, planning included.
    with watch_job(ledger, job.id, run_id, heartbeat_every(settings)):
        wanted = job_tags(job.tenant, job.sync_type, job.parent_id)
        tag_flow_run(wanted)  # a deployment run, or an automation's resume, lacks some
        previous = ledger.previous_job(job.tenant, job.sync_type, before=job.id)
        log.info(describe_previous(previous, job.tenant, job.sync_type))
        if settings.source_rate_limit:
            ensure_rate_limit(job.tenant, settings.source_rate_limit)
        with tags(*wanted):
            return execute(job.id, settings)


def resume_job(job_id: str, *, new_id: str | None = None, return_state: bool = False) -> Any:
    """Resume a job: a ``sync_job`` run of its tenant and type with ``resume_of=job_id``."""
    settings = runtime.settings()
    parent = runtime.ledger(settings).get_job(job_id, with_chunks=False)
    with runtime.use_settings(settings):
        return sync_job(
            tenant=parent.tenant,
            sync_type=SyncType(parent.sync_type),
            resume_of=parent.id,
            job_id=new_id,
            return_state=return_state,
        )
