"""The maintenance flow: ``jobsview reconcile``, run by Prefect, so that a run that died is
settled (and its outcome event sent, for the auto-resume) with no ``jobsview serve`` running.

Its deployment (``deployments/maintenance.py``) runs it every half stale age, and at once when
a ``sync-job`` flow run crashes.
"""

from __future__ import annotations

from prefect import flow

from flows import runtime
from flows.settle import reconcile


@flow(name="jobsview-maintenance", flow_run_name="reconcile", log_prints=False)
def maintenance() -> str:
    """Settle the jobs whose run died (crashed, killed, or silent past the stale age), and
    send outcomes whose reporter died before it could."""
    runtime.guard_console()
    settled = reconcile(runtime.settings())
    log = runtime.logger()
    for job in settled:
        log.warning("reconciled job %s: %s (%s)", job.id, job.status.value, job.error)
    return f"{len(settled)} job{'s' if len(settled) != 1 else ''} settled"
