"""Work a stop can interrupt: the threads that run it are kept, and a stop still ends it."""

from __future__ import annotations

import threading
import time

import pytest

from connectors import bounded
from core.errors import StopRequested


def test_sequential_requests_start_no_new_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    def ident(_abort: threading.Event) -> int:
        return threading.get_ident()

    assert bounded.until_stopped(ident, lambda: False, "reading") != threading.get_ident()
    started: list[threading.Thread] = []
    real_start = threading.Thread.start

    def counting_start(self: threading.Thread) -> None:
        started.append(self)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", counting_start)
    for _ in range(20):
        bounded.until_stopped(ident, lambda: False, "reading")
    assert started == []


def test_concurrent_requests_each_get_a_thread() -> None:
    gate = threading.Barrier(3, timeout=5)

    def meet(_abort: threading.Event) -> int:
        gate.wait()  # all three at once, or the barrier times out
        return threading.get_ident()

    found: list[int] = []
    callers = [
        threading.Thread(
            target=lambda: found.append(bounded.until_stopped(meet, lambda: False, "x"))
        )
        for _ in range(3)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(10)
    assert len(set(found)) == 3


def test_a_stop_ends_the_wait_and_tells_the_work_to_give_up() -> None:
    told: list[bool] = []

    def slow(abort: threading.Event) -> None:
        told.append(abort.wait(5))

    started = time.monotonic()
    with pytest.raises(StopRequested, match="stopped while reading a page"):
        bounded.until_stopped(slow, lambda: time.monotonic() - started > 0.3, "reading a page")
    assert time.monotonic() - started < 2
    deadline = time.monotonic() + 5
    while not told and time.monotonic() < deadline:
        time.sleep(0.05)
    assert told == [True]


def test_errors_reach_the_caller() -> None:
    def fail(_abort: threading.Event) -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        bounded.until_stopped(fail, lambda: False, "reading")
