"""The ``jobsview`` command line (typer + rich).

Human output goes to stdout and logs to stderr; with ``--json`` stdout holds
exactly one JSON document. Exit codes: 0 completed, 1 failed, refused or not
found, 2 bad usage, 3 incomplete, 4 cancelled.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from chunking import SyncSize
from core.settings import load_settings
from core.validation import SyncType
from ledger.models import JobStatus
from ledger.render import job_duration, progress_text, render_tree, short_error
from views import ops
from views.console import (
    EXIT_CODES,
    JobArg,
    JobIdOpt,
    JsonOpt,
    TenantOpt,
    emit_json,
    finish,
    handles_errors,
    open_ledger,
    out,
    print_job,
    run_job,
    tenant_option,
)
from views.deployments_cli import deployments_app
from views.settings_cli import settings_app
from views.usage import JsonUsageGroup

app = typer.Typer(
    name="jobsview",
    help="Chunked, resumable per-tenant data syncs on Prefect, and their Jobs View.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=JsonUsageGroup,
)
app.add_typer(settings_app, name="settings")
app.add_typer(deployments_app, name="deployments")
db_app = typer.Typer(help="The ledger and destination schemas.", no_args_is_help=True)
app.add_typer(db_app, name="db")


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
    finish(run_job(load_settings(), tenant, sync_type, sync_size, as_json, job_id), as_json)


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
    found = open_ledger(load_settings()).list_jobs(tenant=tenant, status=status, limit=limit)
    if as_json:
        emit_json([job.to_dict(include_chunks=False) for job in found])
        return
    # no borders, so the outcome has room at 80 columns; times are short and never wrap
    table = Table(box=None, pad_edge=False, header_style="bold underline", expand=True)
    for name in ("job", "tenant", "type", "status"):
        table.add_column(name)
    table.add_column("chunks", ratio=1, min_width=16)
    table.add_column("records", justify="right")
    table.add_column("took", justify="right", no_wrap=True)
    table.add_column("created UTC", no_wrap=True)
    for job in found:
        notes = [progress_text(job)]
        if job.parent_id:
            notes.append(f"resume of {job.parent_id[:8]}")
        if job.error:
            notes.append(f"error: {short_error(job.error, 60)}")
        cells = (
            job.id[:8],
            job.tenant,
            job.sync_type,
            job.status.value,
            "\n".join(notes),
            f"{job.records_synced:,}" + (" (drift)" if job.drift else ""),
            job_duration(job),
            f"{job.created_at:%m-%d %H:%M}",
        )
        table.add_row(*map(Text, cells))  # text, never markup
    out.print(table if found else "No jobs yet: start one with `jobsview run`.")


@app.command()
@handles_errors
def show(job: JobArg, as_json: JsonOpt = False) -> None:
    """One job, as a tree of its chunks."""
    print_job(open_ledger(load_settings()).get_job(job), as_json)


@app.command()
@handles_errors
def watch(job: JobArg) -> None:
    """Follow a job's tree and progress live until it ends."""
    from views.live import live_job

    ledger = open_ledger(load_settings())
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
    """Ask a queued or running job to stop; running chunks stop at their next page."""
    from ledger.recovery import request_cancel

    found = request_cancel(open_ledger(load_settings()), job)
    if as_json:
        emit_json(found.to_dict(include_chunks=False))
    else:
        out.print(
            f"Cancel requested for job {found.id}; it stops within a few seconds.", markup=False
        )


@app.command()
@handles_errors
def resume(job: JobArg, as_json: JsonOpt = False, job_id: JobIdOpt = None) -> None:
    """Run, as a new linked job, only the chunks of JOB that did not complete."""
    settings = load_settings()
    parent = open_ledger(settings).get_job(job, with_chunks=False)
    sync_type = SyncType(parent.sync_type)
    run = run_job(settings, parent.tenant, sync_type, None, as_json, job_id, resume_of=parent.id)
    finish(run, as_json)


@app.command()
@handles_errors
def reconcile(as_json: JsonOpt = False) -> None:
    """Settle jobs whose run was interrupted (stale heartbeat, or a crashed flow run)."""
    from flows.settle import reconcile as settle_interrupted

    settled = settle_interrupted(load_settings())
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


app.command()(ops.serve)
app.command("demo-source")(ops.demo_source)
app.command()(ops.demo)
db_app.command("upgrade")(ops.db_upgrade)
