"""A pause shared by every request for one tenant: one 429 slows the whole job down."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Throttle:
    """When the source says "too many requests", every chunk of the tenant waits, not just one.

    One instance lives per tenant in a ``RestSource``, which tasks share per process.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock, self._sleep = clock, sleep
        self._until = 0.0
        self._lock = threading.Lock()
        self.pauses = 0

    def pause(self, seconds: float) -> None:
        """Hold every request back for ``seconds`` from now (never shortens a pause)."""
        with self._lock:
            self._until = max(self._until, self._clock() + seconds)
            self.pauses += 1

    def wait(self) -> float:
        """Sleep out the current pause, if any; returns the seconds slept.

        One sleep, not a loop: a pause extended meanwhile is caught before the next request.
        """
        with self._lock:
            left = self._until - self._clock()
        if left <= 0:
            return 0.0
        self._sleep(left)
        return left
