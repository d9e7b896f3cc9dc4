"""Live progress of a job on a terminal: chunks done, records and an ETA."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from core.errors import JobNotFoundError
from ledger.models import Job
from ledger.render import progress_text, render_tree
from ledger.store import Ledger

POLL_SECONDS = 0.5
TREE_ROWS = 25


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn(
            "{task.fields[outcome]} · {task.fields[records]:,} records · {task.fields[status]}"
        ),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )


def _update(progress: Progress, task_id: TaskID, job: Job) -> None:
    progress.update(
        task_id,
        description=f"{job.tenant} {job.sync_type}",
        total=max(job.total_chunks, 1) if job.total_chunks else None,
        completed=job.done_chunks,
        outcome=progress_text(job),
        records=job.records_synced,
        status=job.status.value + (" (cancel requested)" if job.cancel_requested else ""),
    )


@contextmanager
def quiet_prefect_console() -> Iterator[None]:
    """Keep Prefect's INFO lines off the terminal while the live display owns it.

    Only the console handlers are quietened: the logs still reach the Prefect API.
    """
    handlers = [
        h
        for name in ("", "prefect")  # Prefect's console handler sits on the root logger
        for h in logging.getLogger(name).handlers
        if isinstance(h, logging.StreamHandler)
    ]
    levels = [h.level for h in handlers]
    for h in handlers:
        h.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for h, level in zip(handlers, levels, strict=True):
            h.setLevel(level)


@contextmanager
def live_job(ledger: Ledger, job_id: str, console: Console, *, tree: bool) -> Iterator[None]:
    """Show the job's progress (and tree) until the block ends."""
    progress = _progress(console)
    task_id = progress.add_task(
        "planning", total=None, outcome="planning", records=0, status="queued"
    )
    tree_text = Text("")
    done = threading.Event()

    def poll() -> None:
        while not done.wait(POLL_SECONDS):
            refresh()

    def refresh() -> None:
        try:
            job = ledger.get_job(job_id, with_chunks=tree)
        except JobNotFoundError:
            return  # not planned yet
        except Exception:  # a busy database should not break the display
            return
        _update(progress, task_id, job)
        if tree:
            tree_text.plain = render_tree(job, max_chunks=TREE_ROWS)

    renderable = Group(progress, tree_text) if tree else progress
    with quiet_prefect_console(), Live(renderable, console=console, refresh_per_second=4):
        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
            refresh()
