"""What the web's writes do: claim the job here, run it in a background process."""

from __future__ import annotations

from chunking import SyncSize
from core.settings import get_settings
from core.validation import SyncType
from flows.sync_job import new_job_id
from ledger.models import Job
from ledger.recovery import request_cancel, resumable
from ledger.store import Ledger
from tasks.plan_job import resolve_sync_size
from views.web.launcher import Launcher


def start_job(
    ledger: Ledger, launcher: Launcher, tenant: str, sync_type: SyncType, sync_size: SyncSize | None
) -> Job:
    """Claim a queued job (race-free, so a conflict answers at once), then launch its run."""
    settings = get_settings()
    size = resolve_sync_size(ledger, tenant, sync_size, settings.sync_size)
    job = ledger.create_job(
        job_id=new_job_id(),
        tenant=tenant,
        sync_type=sync_type.value,
        sync_size=size.value,
        chunk_size=size.chunk_size,
        resources=settings.resources,
    )
    launcher.launch(
        [
            "run",
            "--tenant",
            tenant,
            "--type",
            sync_type.value,
            "--sync-size",
            size.value,
            "--job-id",
            job.id,
            "--json",
        ]
    )
    return job


def resume_job(ledger: Ledger, launcher: Launcher, ref: str) -> Job:
    parent = resumable(ledger, ref)
    job = ledger.claim_resume(parent, new_job_id())
    launcher.launch(["resume", parent.id, "--job-id", job.id, "--json"])
    return job


def cancel_job(ledger: Ledger, ref: str) -> Job:
    return request_cancel(ledger, ref)
