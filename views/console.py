"""What every command shares: output streams, exit codes, errors, running a flow here."""

from __future__ import annotations

import functools
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from chunking import SyncSize
from core.errors import JobConflictError, JobsViewError
from core.settings import Settings
from core.validation import SyncType, validate_tenant
from ledger.models import Job, JobStatus
from ledger.render import describe_previous, render_tree
from ledger.store import Ledger, get_ledger

if TYPE_CHECKING:
    from views.logs import RunLog
    from views.temporary_server import TemporaryServer

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


def one_line(message: str) -> str:
    """``invalid settings:\n  A: ...\n  B: ...`` as ``invalid settings: A: ...; B: ...``."""
    head, *rest = [line.strip() for line in message.strip().splitlines()] or [""]
    if not rest:
        return head
    return f"{head} {'; '.join(rest)}" if head.endswith(":") else "; ".join([head, *rest])


def fail(message: str, as_json: bool = False, **extra: Any) -> NoReturn:
    """One ``error:`` line on stderr (the message verbatim, on one line), and one JSON
    document on stdout if asked."""
    message = one_line(message)
    if as_json:
        emit_json({"error": message, **extra})
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(1)


def database_error(exc: SQLAlchemyError) -> str:
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"database error: {lines[0] if lines else type(exc).__name__}"


def handles_errors(fn: F) -> F:
    """Turn Jobs View and database errors into one clear line and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return fn(*args, **kwargs)
        except JobConflictError as exc:
            fail(str(exc), as_json, blocking_job_id=exc.blocking_job_id)
        except JobsViewError as exc:
            fail(str(exc), as_json)
        except SQLAlchemyError as exc:
            fail(database_error(exc), as_json)

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


def open_ledger(settings: Settings) -> Ledger:
    return get_ledger(settings.database_url)


def print_job(job: Job, as_json: bool) -> None:
    if as_json:
        emit_json(job.to_dict())
    else:
        out.print(render_tree(job), markup=False)


class Run(NamedTuple):
    """A job run here, and the file its full log went to."""

    job: Job
    log_file: Path


def finish(run: Run, as_json: bool, note: str | None = None) -> NoReturn:
    """Print the job (and ``note`` as text); if it did not complete, where its full log is;
    exit with its code."""
    print_job(run.job, as_json)
    if note and not as_json:
        out.print(note, markup=False)
    if run.job.status is not JobStatus.COMPLETED and run.log_file.exists():
        err.print(f"Full log, with tracebacks: {run.log_file}", markup=False, highlight=False)
    raise typer.Exit(EXIT_CODES.get(run.job.status, 1))


def run_job(
    settings: Settings,
    tenant: str,
    sync_type: SyncType,
    sync_size: SyncSize | None,
    as_json: bool,
    job_id: str | None = None,
    resume_of: str | None = None,
) -> Run:
    """Claim a job (refused at once, before any flow run, while another runs), then run its
    flow in this process with live progress on a terminal; return the job and its log."""
    from flows.claim import claim
    from views.logs import new_log_path, run_log
    from views.prefect_setup import check_api, configured_api, launch_temporary_server

    with sigterm_as_ctrl_c():
        ledger = open_ledger(settings)
        api = configured_api()
        if api:
            check_api(api)
        log_path = new_log_path()
        # Without an API, a temporary server boots on the other core while the job is claimed.
        server = None if api else launch_temporary_server(log_path)
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
        except KeyboardInterrupt:
            raise JobsViewError("interrupted before a job was claimed: nothing ran") from None
        say = err if as_json else out
        if job.parent_id:
            say.print(f"Resuming job {job.parent_id} as {job.id}.", markup=False)
        else:
            previous = ledger.previous_job(tenant, sync_type.value, before=job.id)
            say.print(describe_previous(previous, tenant, sync_type.value), markup=False)
        with run_log(log_path) as log:
            _run_flow(settings, ledger, job, log, server, live=out.is_terminal and not as_json)
        return Run(ledger.get_job(job.id), log.path)


@contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM to a command that runs a job stops it as Ctrl-C does: the job is cancelled,
    printed (one JSON document with ``--json``), and the exit code says so."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_flow(
    settings: Settings,
    ledger: Ledger,
    job: Job,
    log: RunLog,
    server: TemporaryServer | None,
    *,
    live: bool,
) -> None:
    """Run the claimed job's flow here; Prefect's own failures become one line, their trace
    goes to the log. ``server``: a temporary Prefect server that dies with us, if any."""
    from flows import sync_job, use_settings  # Prefect loads only to run a job
    from flows.claim import release_unstarted
    from flows.runtime import signals_cancel
    from views.live import live_job
    from views.logs import child_logging
    from views.prefect_setup import describe_prefect_failure, temporary_api

    try:
        with ExitStack() as stack:
            stack.enter_context(temporary_api(server))
            stack.enter_context(child_logging(log))  # after the server: it logs to the file
            if live:
                stack.enter_context(live_job(ledger, job.id, out, tree=False))
            stack.enter_context(use_settings(settings))
            stack.enter_context(signals_cancel())
            sync_job(
                tenant=job.tenant,
                sync_type=SyncType(job.sync_type),
                job_id=job.id,
                resume_of=job.parent_id,
                return_state=True,
            )
    except KeyboardInterrupt as exc:
        # Outside the flow's own handling: before its run adopted the job, or while Prefect
        # set the run up or tore it down. The operator asked: the job is cancelled.
        _cancel_here(settings, ledger, job.id, exc)
    except (JobsViewError, SQLAlchemyError) as exc:
        log.record(exc)
        raise
    except Exception as exc:  # Prefect could not start or finish the flow run
        log.record(exc)
        why = describe_prefect_failure(exc)
        release_unstarted(settings, job.id, why)  # if it never started, it blocks nothing
        raise JobsViewError(f"{why}; full log: {log.path}") from None


def _cancel_here(settings: Settings, ledger: Ledger, job_id: str, exc: BaseException) -> None:
    """Settle a job whose run an operator stopped outside the flow (a second Ctrl-C waits)."""
    from flows.claim import release_unstarted
    from flows.settle import settle
    from flows.stopping import SignalShield

    with SignalShield() as shield:
        shield.arm()
        release_unstarted(settings, job_id, exc)
        if not ledger.get_job(job_id, with_chunks=False).status.finished:
            ledger.request_cancel(job_id)
            settle(settings, job_id)
