"""What every command shares: output streams, exit codes, errors, running a flow here."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from contextlib import nullcontext
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from chunking import SyncSize
from core.errors import JobsViewError
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


def run_job(
    tenant: str,
    sync_type: SyncType,
    sync_size: SyncSize | None,
    as_json: bool,
    job_id: str | None = None,
    resume_of: str | None = None,
) -> Job:
    """Claim a job (refused at once, before any flow run, while another runs), then run its
    flow in this process with live progress on a terminal; return the job."""
    from flows import sync_job  # Prefect import is slow: only when running
    from flows.claim import claim
    from flows.prefect_api import flow_run_state

    ledger = open_ledger()
    job = claim(
        ledger,
        get_settings(),
        flow_run_state,
        tenant=tenant,
        sync_type=sync_type,
        sync_size=sync_size,
        job_id=job_id,
        resume_of=resume_of,
    )
    say = err if as_json else out
    if job.parent_id:
        say.print(f"Resuming job {job.parent_id} as {job.id}.", markup=False)
    else:
        previous = ledger.previous_job(tenant, sync_type.value, before=job.id)
        say.print(describe_previous(previous, tenant, sync_type.value), markup=False)
    live = out.is_terminal and not as_json
    with live_job(ledger, job.id, out, tree=False) if live else nullcontext():
        try:
            sync_job(
                tenant=tenant,
                sync_type=sync_type,
                job_id=job.id,
                resume_of=job.parent_id,
                return_state=True,
            )
        except KeyboardInterrupt:
            err.print("Interrupted: the job stopped its chunks and is cancelled.")
    return ledger.get_job(job.id)
