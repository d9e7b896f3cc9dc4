"""The ``jobsview`` command line (typer + rich).

Human output goes to stdout and logs to stderr; with ``--json`` stdout holds
exactly one JSON document. Exit codes: 0 completed, 1 failed, refused or not
found, 2 bad usage, 3 incomplete, 4 cancelled.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from prefect.states import State
from rich.console import Console
from rich.table import Table

from chunking import SyncSize
from core.errors import JobConflictError, JobNotFoundError, JobsViewError
from core.settings import get_settings
from core.validation import SyncType, validate_tenant
from ledger.models import Job, JobStatus
from ledger.render import describe_previous, render_tree
from ledger.store import Ledger, get_ledger
from views.live import live_job
from views.settings_cli import settings_app

app = typer.Typer(
    name="jobsview",
    help="Chunked, resumable per-tenant data syncs on Prefect, and their Jobs View.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(settings_app, name="settings")
db_app = typer.Typer(help="The ledger and destination schemas.", no_args_is_help=True)
app.add_typer(db_app, name="db")

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


@app.command()
@handles_errors
def run(
    tenant: TenantOpt,
    sync_type: Annotated[SyncType, typer.Option("--type", help="full or partial.")],
    sync_size: Annotated[
        SyncSize | None, typer.Option("--sync-size", help="Records per chunk for this run.")
    ] = None,
    as_json: JsonOpt = False,
    job_id: JobIdOpt = None,
) -> None:
    """Plan and run a sync job in this process, then print it."""
    try:
        job = run_job(tenant, sync_type, sync_size, as_json, job_id)
    except JobConflictError as exc:
        fail(str(exc), as_json, blocking_job_id=exc.blocking_job_id)
    print_job(job, as_json)
    raise typer.Exit(EXIT_CODES.get(job.status, 1))


@app.command()
@handles_errors
def jobs(
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", callback=tenant_option, help="Only this tenant.")
    ] = None,
    status: Annotated[JobStatus | None, typer.Option("--status", help="Only this status.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """The job history, newest first."""
    found = open_ledger().list_jobs(tenant=tenant, status=status, limit=limit)
    if as_json:
        emit_json([job.to_dict(include_chunks=False) for job in found])
        return
    table = Table("job", "tenant", "type", "status", "chunks", "records", "created (UTC)")
    for job in found:
        table.add_row(
            job.id[:8],
            job.tenant,
            job.sync_type,
            job.status.value,
            f"{job.done_chunks}/{job.total_chunks}",
            f"{job.records_synced:,}",
            f"{job.created_at:%Y-%m-%d %H:%M:%S}",
        )
    out.print(table if found else "No jobs yet: start one with `jobsview run`.")


@app.command()
@handles_errors
def show(job: JobArg, as_json: JsonOpt = False) -> None:
    """One job, as the seed's tree of chunks."""
    print_job(open_ledger().get_job(job), as_json)


@app.command()
@handles_errors
def watch(job: JobArg) -> None:
    """Follow a job's tree and progress live until it ends."""
    ledger = open_ledger()
    job_id = ledger.resolve_id(job)
    if out.is_terminal:
        with live_job(ledger, job_id, out, tree=True):
            while not ledger.get_job(job_id, with_chunks=False).status.finished:
                time.sleep(0.5)
    else:
        while not ledger.get_job(job_id, with_chunks=False).status.finished:
            time.sleep(0.5)
    final = ledger.get_job(job_id)
    out.print(render_tree(final), markup=False)
    raise typer.Exit(EXIT_CODES.get(final.status, 1))


@app.command()
@handles_errors
def cancel(job: JobArg, as_json: JsonOpt = False) -> None:
    """Ask a queued or running job to stop: unstarted chunks are cancelled, running ones stop
    at their next page and write nothing."""
    from ledger.recovery import request_cancel

    found = request_cancel(open_ledger(), job)
    if as_json:
        emit_json(found.to_dict(include_chunks=False))
    else:
        out.print(f"Cancel requested for job {found.id}; it stops within a few seconds.")


@app.command()
@handles_errors
def resume(job: JobArg, as_json: JsonOpt = False, job_id: JobIdOpt = None) -> None:
    """Run, as a new linked job, only the chunks of JOB that did not complete."""
    from flows.resume_job import resume_job
    from flows.sync_job import new_job_id
    from ledger.recovery import resumable

    ledger = open_ledger()
    new_id = job_id or new_job_id()
    parent = resumable(ledger, job, adopting=new_id)
    (err if as_json else out).print(f"Resuming job {parent.id} as {new_id}.", markup=False)
    found = follow_flow(
        ledger,
        new_id,
        as_json,
        lambda: resume_job(job_id=parent.id, new_id=new_id, return_state=True),
    )
    print_job(found, as_json)
    raise typer.Exit(EXIT_CODES.get(found.status, 1))


@app.command()
@handles_errors
def reconcile(as_json: JsonOpt = False) -> None:
    """Settle jobs whose run was interrupted (stale heartbeat, or a crashed flow run)."""
    from datetime import timedelta

    from ledger.recovery import reconcile as settle_interrupted
    from tasks.prefect_api import flow_run_state

    stale = timedelta(seconds=get_settings().stale_after_seconds)
    settled = settle_interrupted(open_ledger(), stale, flow_run_state)
    if as_json:
        emit_json([j.to_dict(include_chunks=False) for j in settled])
        return
    for found in settled:
        out.print(
            f"{found.id} {found.tenant} {found.sync_type}: {found.status.value} ({found.error})",
            markup=False,
        )
    if not settled:
        out.print("No interrupted jobs.")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8080,
) -> None:
    """The web Jobs View: jobs list, job detail, Settings and the JSON API (at /docs)."""
    import uvicorn

    from views.web import Launcher, create_app
    from views.web.security import is_loopback

    try:
        settings = get_settings()
    except JobsViewError as exc:
        fail(str(exc))
    if not is_loopback(host) and settings.api_token is None:
        fail(f"refusing to listen on {host} without JOBSVIEW_API_TOKEN: set one, or use 127.0.0.1")
    err.print(f"Jobs View on http://{host}:{port} (background jobs log to jobsview-jobs.log)")
    uvicorn.run(
        create_app(Launcher(Path("jobsview-jobs.log"))), host=host, port=port, log_level="warning"
    )


@app.command("demo-source")
def demo_source(
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8765,
    host: str = "127.0.0.1",
    token: Annotated[str | None, typer.Option(help="Require this bearer token.")] = None,
    page_cap: Annotated[
        int | None, typer.Option(min=1, help="Serve at most this many items per page.")
    ] = None,
    rate_429: Annotated[
        float, typer.Option(min=0, max=1, help="Share of requests answered 429.")
    ] = 0.0,
    rate_5xx: Annotated[float, typer.Option(min=0, max=1, help="Share answered 5xx.")] = 0.0,
    rate_drop: Annotated[
        float, typer.Option(min=0, max=1, help="Share of dropped connections.")
    ] = 0.0,
    slow_ms: Annotated[int, typer.Option(min=0, help="Delay per page, in ms.")] = 0,
) -> None:
    """Serve the bundled demo source API (deterministic records, switchable faults)."""
    from connectors.demo_source import DemoFaults, serve_forever

    faults = DemoFaults(
        token=token,
        page_cap=page_cap,
        rate_429=rate_429,
        rate_5xx=rate_5xx,
        rate_drop=rate_drop,
        slow_ms=slow_ms,
    )
    err.print(f"Demo source on http://{host}:{port} (tenants acme, globex, initech). Ctrl-C stops.")
    serve_forever(host=host, port=port, faults=faults)


@app.command()
@handles_errors
def demo(as_json: JsonOpt = False) -> None:
    """The quickstart: start the demo source, run a full sync of tenant acme, print the tree."""
    from views.demo import run_demo

    job = run_demo(lambda: run_job("acme", SyncType.FULL, None, as_json))
    print_job(job, as_json)
    if not as_json:
        out.print(
            f"\nThe job is in the ledger at {get_settings().database_url}. Look again with "
            f"`jobsview show {job.id[:8]}` or `jobsview jobs`.",
            markup=False,
        )
    raise typer.Exit(EXIT_CODES.get(job.status, 1))


@db_app.command("upgrade")
@handles_errors
def db_upgrade() -> None:
    """Apply the migrations to the ledger and the destination databases."""
    from connectors.destination import get_destination
    from core.db import safe_url

    settings = get_settings()
    open_ledger()
    get_destination(settings.destination)
    out.print(f"ledger {safe_url(settings.database_url)}: up to date", markup=False)
    out.print(f"destination {safe_url(settings.destination)}: up to date", markup=False)


def main() -> None:  # pragma: no cover - the console script
    app()
