"""How a run stops early: a cancel when someone asked for one, an interruption otherwise.

Ctrl-C is an operator asking; so is SIGTERM to an operator's own command (``jobsview run``,
see ``runtime.signals_cancel``), or to a worker's run that Prefect shows Cancelling. Any other
end (SIGTERM from a machine shutting down, the process exiting) interrupts the job: it
settles incomplete or failed by its chunks, never cancelled, so the auto-resume may take it.

Once the run is stopping, further signals are noted, not raised (``SignalShield``): a second
Ctrl-C must not leave the job half-settled.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from types import FrameType, TracebackType

from prefect.exceptions import TerminationSignal

from flows import runtime
from flows.prefect_api import cancel_asked
from ledger.store import Ledger


def describe(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "Ctrl-C"
    if isinstance(exc, TerminationSignal):
        return signal.Signals(exc.signal).name
    if isinstance(exc, SystemExit):
        return f"the process is exiting (SystemExit {exc.code})"
    return f"{type(exc).__name__}: {exc}"


def asked_to_cancel(ledger: Ledger, job_id: str, exc: BaseException) -> bool:
    if isinstance(exc, KeyboardInterrupt):
        return True
    job = ledger.get_job(job_id, with_chunks=False)
    if job.cancel_requested:
        return True
    if not isinstance(exc, TerminationSignal):
        return False
    return runtime.sigterm_cancels() or (
        job.flow_run_id is not None and cancel_asked(job.flow_run_id)
    )


def stop(ledger: Ledger, job_id: str, exc: BaseException) -> None:
    """Stop the job's chunks at their next page: as a cancel if one was asked for, else as an
    interruption whose cause the job keeps."""
    if asked_to_cancel(ledger, job_id, exc):
        ledger.request_cancel(job_id)
        why = "cancel requested"
    else:
        why = f"interrupted: {describe(exc)}"
        ledger.interrupt(job_id, why)
    if isinstance(exc, Exception):
        runtime.logger().error("job %s: %s", job_id, why, exc_info=exc)
    else:
        runtime.logger().warning("job %s: %s; stopping its chunks", job_id, why)


class SignalShield:
    """While armed (from the first interruption until the job has settled), SIGINT and
    SIGTERM are noted, not raised. Signals only reach the main thread: elsewhere it is a
    no-op."""

    def __init__(self) -> None:
        self._saved: dict[int, object] = {}

    def __enter__(self) -> SignalShield:
        return self

    def arm(self) -> None:
        if self._saved or threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._saved[signum] = signal.signal(signum, self._noted)

    def _noted(self, signum: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(Exception, SystemExit):  # never raise from a handler
            runtime.logger().warning(
                "%s: already stopping; the job settles as soon as its running chunks stop",
                signal.Signals(signum).name,
            )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._saved.clear()
