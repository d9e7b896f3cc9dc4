"""A job's companion thread: heartbeats, and noticing a cancel asked of Prefect.

Prefect stops only the runs it launched; a run started in-process must notice a
Cancelling flow run itself, and stop its chunks cleanly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from uuid import UUID

from prefect import get_client
from prefect.client.orchestration import SyncPrefectClient

from flows import adapter
from ledger.store import Ledger

log = logging.getLogger(__name__)

CANCEL_POLL_SECONDS = 1.0


@contextmanager
def watch_job(
    ledger: Ledger, job_id: str, flow_run_id: str | None, heartbeat_every: float
) -> Iterator[None]:
    """Beat every ``heartbeat_every`` seconds and turn a Cancelling flow run into a cancel."""
    stop = threading.Event()

    def run() -> None:
        next_beat = 0.0
        with get_client(sync_client=True) as client:
            while not stop.wait(CANCEL_POLL_SECONDS):
                now = time.monotonic()
                if now >= next_beat:
                    next_beat = now + heartbeat_every
                    _quietly(ledger.heartbeat, job_id)
                if flow_run_id and _cancelling(client, flow_run_id):
                    log.info("flow run %s is cancelling: stopping job %s", flow_run_id, job_id)
                    _quietly(ledger.request_cancel, job_id)

    thread = threading.Thread(target=run, name=f"watch-{job_id[:8]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _cancelling(client: SyncPrefectClient, flow_run_id: str) -> bool:
    try:
        run = client.read_flow_run(UUID(flow_run_id))
    except Exception:  # the API may be briefly away; the next poll asks again
        return False
    return adapter.cancel_requested(run.state_type)


def _quietly(fn: Callable[[str], object], job_id: str) -> None:
    try:
        fn(job_id)
    except Exception as exc:  # a missed beat is not worth failing the job
        log.warning("job %s: %s", job_id, exc)
