"""A pause shared by every request for one tenant: one 429 slows the whole job down."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Throttle:
    """When the source says "too many requests", every chunk of the tenant waits, not just one.

    One instance lives per tenant in a ``RestSource``, which tasks share per process.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until = 0.0
        self._lock = threading.Lock()
        self.pauses = 0

    def pause(self, seconds: float) -> None:
        """Hold every request back for ``seconds`` from now (never shortens a pause)."""
        with self._lock:
            self._until = max(self._until, self._clock() + seconds)
            self.pauses += 1

    def remaining(self) -> float:
        """Seconds left of the current pause (0 when none).

        Read once per request, not waited out in a loop: a pause extended meanwhile is caught
        before the next request.
        """
        with self._lock:
            return max(0.0, self._until - self._clock())
