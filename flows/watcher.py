"""A job's companion thread: heartbeats, and noticing a cancel asked of Prefect.

The heartbeat runs from the claim until the job's flow ends, planning included, so a slow
planning phase never looks dead to ``reconcile``. A claim and its flow run in one process
share one thread per job: the flow run's watch joins the claim's and adds its flow run id.

Prefect stops only the runs it launched; a run started in-process must notice a
Cancelling flow run itself, and stop its chunks cleanly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from prefect import get_client
from prefect.client.orchestration import SyncPrefectClient

from core.settings import Settings
from flows.prefect_api import cancel_asked
from ledger.store import Ledger

log = logging.getLogger(__name__)

CANCEL_POLL_SECONDS = 1.0


@dataclass
class _Watch:
    job_id: str
    flow_run_id: str | None  # None until the flow run exists
    users: int = 0
    stop: threading.Event = field(default_factory=threading.Event)


_watches: dict[str, tuple[_Watch, threading.Thread]] = {}
_lock = threading.Lock()


def heartbeat_every(settings: Settings) -> float:
    """Running jobs beat at a quarter of the stale age: a late beat or two never looks stale."""
    return settings.stale_after_seconds / 4


@contextmanager
def watch_job(
    ledger: Ledger, job_id: str, flow_run_id: str | None, heartbeat_every: float
) -> Iterator[None]:
    """Beat every ``heartbeat_every`` seconds and turn a Cancelling flow run into a cancel.

    Nested watches of one job in one process share the outer one's thread.
    """
    with _lock:
        if job_id not in _watches:
            watch = _Watch(job_id, flow_run_id)
            thread = threading.Thread(
                target=_run,
                args=(ledger, watch, heartbeat_every),
                name=f"watch-{job_id[:8]}",
                daemon=True,
            )
            _watches[job_id] = (watch, thread)
            thread.start()
        watch, thread = _watches[job_id]
        watch.users += 1
        watch.flow_run_id = flow_run_id or watch.flow_run_id
    try:
        yield
    finally:
        with _lock:
            watch.users -= 1
            last = not watch.users
            if last:
                del _watches[job_id]
        if last:
            watch.stop.set()
            thread.join()


def _run(ledger: Ledger, watch: _Watch, heartbeat_every: float) -> None:
    next_beat = next_poll = 0.0
    with ExitStack() as stack:
        client: SyncPrefectClient | None = None
        while True:
            now = time.monotonic()
            if now >= next_beat:
                next_beat = now + heartbeat_every
                _quietly(ledger.heartbeat, watch.job_id)
            if now >= next_poll:
                next_poll = now + CANCEL_POLL_SECONDS
                if flow_run_id := watch.flow_run_id:
                    if client is None:  # opened once there is a flow run to ask about
                        client = stack.enter_context(get_client(sync_client=True))
                    if cancel_asked(flow_run_id, client):
                        log.info(
                            "flow run %s is cancelling: stopping job %s", flow_run_id, watch.job_id
                        )
                        _quietly(ledger.request_cancel, watch.job_id)
            if watch.stop.wait(max(min(next_beat, next_poll) - time.monotonic(), 0.0)):
                return


def _quietly(fn: Callable[[str], object], job_id: str) -> None:
    try:
        fn(job_id)
    except Exception as exc:  # a missed beat is not worth failing the job
        log.warning("job %s: %s", job_id, exc)
