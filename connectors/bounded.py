"""Requests and waits that a stop ends at once, and bodies read within bounds.

A chunk must notice a cancel within seconds whatever the source does: answer slowly, drip a
page a few bytes at a time, ask for a long ``Retry-After``. So work that may block runs on a
thread of its own while the caller looks for a stop every ``STOP_POLL`` seconds; on a stop the
caller raises ``StopRequested`` and the abandoned work is told to give up.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import httpx

from core.errors import StopRequested

T = TypeVar("T")

STOP_POLL = 0.25  # how often a request in flight, or a wait, looks for a stop
ERROR_BODY_BYTES = 64 * 1024  # enough of an error answer to quote it
# Bodies are decoded as they stream in; these headers describe the wire form, not ours.
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})

ShouldStop = Callable[[], bool]


class BodyTooLarge(Exception):
    """A 200's body outgrew ``max_body``; ``args[0]`` is how much had come."""


class _Workers:
    """Daemon threads kept between requests: starting one per request cost about 1 ms.

    Daemon, so that work abandoned on a stop never holds up the process's exit.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
            else:
                threading.Thread(
                    target=self._serve, name="jobsview-source-request", daemon=True
                ).start()
        self._jobs.put(job)

    def _serve(self) -> None:
        while True:
            self._jobs.get()()
            with self._lock:
                self._idle += 1


_workers = _Workers()


def until_stopped(
    work: Callable[[threading.Event], T], should_stop: ShouldStop | None, doing: str
) -> T:
    """``work(abort)``; with ``should_stop``, on a thread of its own, so that a stop is seen
    within ``STOP_POLL`` whatever holds the work up. Abandoned work sees ``abort`` set.

    ``doing`` ends the stop's message: "stopped while {doing}".
    """
    abort = threading.Event()
    if should_stop is None:
        return work(abort)
    outcome: list[T | BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(work(abort))
        except BaseException as exc:  # handed over to the caller's thread
            outcome.append(exc)
        finally:
            done.set()

    _workers.submit(run)
    while not done.wait(STOP_POLL):
        if should_stop():
            abort.set()
            raise StopRequested(f"stopped while {doing}")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def wait(
    seconds: float, sleep: Callable[[float], None], should_stop: ShouldStop | None, doing: str
) -> None:
    """``sleep(seconds)``, in ``STOP_POLL`` steps when a stop may come."""
    if seconds <= 0:
        return
    if should_stop is None:
        sleep(seconds)
        return
    waited = 0.0
    while waited < seconds:
        if should_stop():
            raise StopRequested(f"stopped while {doing}")
        step = min(STOP_POLL, seconds - waited)
        sleep(step)
        waited += step


def read(
    client: httpx.Client,
    url: str,
    params: dict[str, str | int],
    abort: threading.Event,
    *,
    max_body: int,
    deadline: float,
) -> httpx.Response:
    """GET ``url`` and read its body as it streams in, into a plain response.

    A 200 over ``max_body`` raises ``BodyTooLarge``; of an error only the start is kept. Past
    ``deadline`` seconds, or once ``abort`` is set, it gives up with ``httpx.ReadTimeout``.
    """
    give_up_at = time.monotonic() + deadline
    with client.stream("GET", url, params=params) as response:
        cap = max_body if response.status_code == 200 else ERROR_BODY_BYTES
        body = bytearray()
        for piece in response.iter_bytes():
            if abort.is_set() or time.monotonic() > give_up_at:
                raise httpx.ReadTimeout(
                    f"no complete answer within {deadline:g}s", request=response.request
                )
            body += piece
            if len(body) > cap:
                if response.status_code == 200:
                    raise BodyTooLarge(len(body))
                break
        headers = [
            (k, v) for k, v in response.headers.multi_items() if k.lower() not in _WIRE_HEADERS
        ]
        return httpx.Response(
            response.status_code, headers=headers, content=bytes(body), request=response.request
        )
