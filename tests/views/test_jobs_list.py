"""``jobsview jobs``: what each job's outcome was, its lineage and error, in 80 columns."""

from __future__ import annotations

import re
import uuid

import pytest

from ledger import JobStatus, Ledger
from ledger.models import Job
from tests.support import SyncEnv
from tests.views.conftest import Cli
from tests.views.web.conftest import finished_job

SHORT_TIME = re.compile(r"\b\d\d-\d\d \d\d:\d\d\b")
LONG_ERROR = (
    "HTTP 401 from the source for contacts at offset 0: authentication failed; "
    "check JOBSVIEW_SOURCE_TOKEN\nand the tenant's name"
)


def resume_of(ledger: Ledger, parent: Job) -> Job:
    """A completed resume of ``parent``: its unfinished chunks re-run, all completed."""
    job = ledger.claim_resume(parent, str(uuid.uuid4()))
    ledger.copy_unfinished_chunks(parent.id, job.id)
    ledger.mark_running(job.id, ran_as_full=False)
    for chunk in ledger.get_job(job.id).chunks or ():
        ledger.chunk_started(job.id, chunk.index, "test:1")
        ledger.chunk_completed(job.id, chunk.index, 100)
    return ledger.finish_job(job.id, JobStatus.COMPLETED)


def seed(ledger: Ledger) -> tuple[Job, Job, Job]:
    cancelled = finished_job(ledger, JobStatus.CANCELLED, completed=16, failed=0, pending=21)
    resume = resume_of(ledger, cancelled)
    failed = finished_job(
        ledger, JobStatus.FAILED, tenant="globex", completed=0, failed=1, error=LONG_ERROR
    )
    return cancelled, resume, failed


def test_the_list_says_how_each_job_ended(
    sync_env: SyncEnv, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cancelled, resume, failed = seed(sync_env.ledger)
    monkeypatch.setenv("COLUMNS", "250")  # wide enough that no cell wraps
    code, out, _ = cli("jobs", "--limit", "10")
    assert code == 0
    flat = " ".join(out.split())
    assert "16 of 37 chunks completed, 21 pending" in flat
    lines = out.splitlines()
    below = {line[:8]: lines[n + 1].strip() for n, line in enumerate(lines[:-1])}
    assert below[resume.id[:8]] == f"resume of {cancelled.id[:8]}"
    assert below[failed.id[:8]].startswith("error: HTTP 401 from the source for contacts")
    assert "and the tenant's name" not in flat  # one line, shortened
    assert "took" in out.splitlines()[0] and re.search(r"\b\d+\.\ds\b", out)


@pytest.mark.parametrize("columns", ["80", "200"])
def test_the_list_fits_the_terminal_without_splitting_times(
    sync_env: SyncEnv, cli: Cli, monkeypatch: pytest.MonkeyPatch, columns: str
) -> None:
    seed(sync_env.ledger)
    monkeypatch.setenv("COLUMNS", columns)
    code, out, _ = cli("jobs")
    assert code == 0
    lines = out.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= int(columns)
    rows = [line for line in lines if re.match(r"[0-9a-f]{8}\s", line)]
    assert len(rows) == 3 and all(SHORT_TIME.search(row) for row in rows), out
    assert not re.search(r"\d{4}-\d\d-\d\d", out)  # short times: no year, no seconds
