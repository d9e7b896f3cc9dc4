"""What every command shares: output streams, exit codes, errors, running a flow here."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from contextlib import nullcontext
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from prefect.states import State
from rich.console import Console

from chunking import SyncSize
from core.errors import JobNotFoundError, JobsViewError
from core.settings import get_settings
from core.validation import SyncType, validate_tenant
from ledger.models import Job, JobStatus
from ledger.render import describe_previous, render_tree
from ledger.store import Ledger, get_ledger
from views.live import live_job

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_CODES = {
    JobStatus.COMPLETED: 0,
    JobStatus.FAILED: 1,
    JobStatus.INCOMPLETE: 3,
    JobStatus.CANCELLED: 4,
}

F = TypeVar("F", bound=Callable[..., Any])


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def fail(message: str, as_json: bool = False, **extra: Any) -> NoReturn:
    if as_json:
        emit_json({"error": message, **extra})
    err.print(f"[red]error:[/red] {message}", markup=True, highlight=False)
    raise typer.Exit(1)


def handles_errors(fn: F) -> F:
    """Turn Jobs View errors into a clear message and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except JobsViewError as exc:
            fail(str(exc), bool(kwargs.get("as_json")))

    return wrapper  # type: ignore[return-value]


def tenant_option(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return validate_tenant(value)
    except JobsViewError as exc:
        raise typer.BadParameter(str(exc)) from None


TenantOpt = Annotated[
    str, typer.Option("--tenant", "-t", callback=tenant_option, help="Tenant name.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
# Set by the web app, which claims the job before it launches the run.
JobIdOpt = Annotated[str | None, typer.Option("--job-id", hidden=True)]
JobArg = Annotated[str, typer.Argument(help="Job id, or a unique prefix of one.")]


def open_ledger() -> Ledger:
    return get_ledger(get_settings().database_url)


def print_job(job: Job, as_json: bool) -> None:
    if as_json:
        emit_json(job.to_dict())
    else:
        out.print(render_tree(job), markup=False)


def follow_flow(ledger: Ledger, job_id: str, as_json: bool, start: Callable[[], Any]) -> Job:
    """Run a flow in this process, with live progress on a terminal; return its job."""
    live = out.is_terminal and not as_json
    with live_job(ledger, job_id, out, tree=False) if live else nullcontext():
        try:
            state: State[Any] = start()
        except KeyboardInterrupt:
            err.print("Interrupted: the job stopped its chunks and is cancelled.")
            return ledger.get_job(job_id)
    try:
        return ledger.get_job(job_id)
    except JobNotFoundError:
        cause = state.result(raise_on_failure=False)
        if isinstance(cause, JobsViewError):
            raise cause from None
        raise JobsViewError(f"the job did not start: {state.message}") from None


def run_job(
    tenant: str,
    sync_type: SyncType,
    sync_size: SyncSize | None,
    as_json: bool,
    job_id: str | None = None,
) -> Job:
    """Run a sync in this process; return the job."""
    from flows.sync_job import new_job_id, sync_job  # Prefect import is slow: only when running

    ledger = open_ledger()
    say = err if as_json else out
    job_id = job_id or new_job_id()
    previous = ledger.previous_job(tenant, sync_type.value, before=job_id)
    say.print(describe_previous(previous, tenant, sync_type.value), markup=False)
    return follow_flow(
        ledger,
        job_id,
        as_json,
        lambda: sync_job(
            tenant=tenant,
            sync_type=sync_type,
            sync_size=sync_size,
            job_id=job_id,
            return_state=True,
        ),
    )
