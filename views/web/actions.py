"""What the web's writes do: claim the job here, then run it where it should run.

The claim answers a conflict at once (409). The run is handed to the tenant's deployment when
one is served or deployed, so web jobs run where the schedules run; otherwise it starts in a
background process.
"""

from __future__ import annotations

from chunking import SyncSize
from core.settings import Settings
from core.validation import SyncType
from flows.claim import claim
from ledger.models import Job
from ledger.recovery import request_cancel
from ledger.store import Ledger
from views.web.launcher import Launcher


def start_job(
    settings: Settings,
    ledger: Ledger,
    launcher: Launcher,
    tenant: str,
    sync_type: SyncType,
    sync_size: SyncSize | None,
) -> Job:
    job = claim(
        ledger,
        settings,
        tenant=tenant,
        sync_type=sync_type,
        sync_size=sync_size,
    )
    launcher.start(job, ledger)
    return job


def start_resume(settings: Settings, ledger: Ledger, launcher: Launcher, ref: str) -> Job:
    parent = ledger.get_job(ref, with_chunks=False)
    job = claim(
        ledger,
        settings,
        tenant=parent.tenant,
        sync_type=parent.sync_type,
        resume_of=parent.id,
    )
    launcher.start(job, ledger)
    return job


def cancel_job(ledger: Ledger, ref: str) -> Job:
    return request_cancel(ledger, ref)
