"""How the source client waits between tries: exponential backoff, jitter and Retry-After."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# A server may ask for a long pause; beyond this we would rather fail the chunk and let its
# own retries (or an operator) decide than hold a worker for an hour.
MAX_RETRY_AFTER = 300.0


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` is the total number of tries per request, the first one included."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.5
    # Injected so tests can record the waits instead of sleeping.
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("base_delay and max_delay must not be negative")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")


def backoff_delay(
    policy: RetryPolicy,
    attempt: int,
    retry_after: float | None = None,
    *,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after failed try number ``attempt`` (1-based).

    The delay is ``base_delay * 2**(attempt-1)``, capped at ``max_delay``, then reduced by a
    random fraction of up to ``jitter`` (proportional jitter: with jitter 0.5 the wait lies in
    ``[delay/2, delay]``), so that many workers hitting one rate limit spread out. A server's
    ``Retry-After`` is a floor: we never come back sooner than asked (capped at 5 minutes).
    """
    exponent = min(max(attempt, 1) - 1, 62)  # keep 2**n finite for absurd attempt numbers
    delay = min(policy.max_delay, policy.base_delay * 2.0**exponent)
    delay *= 1.0 - policy.jitter * rand()
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header as seconds from ``now``: "3", "0.5" or an HTTP date.

    A date in the past or a negative number means "now" (0); anything unreadable is None.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:  # older Pythons returned None instead of raising
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses as naive
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    if current.tzinfo is None:
        current = current.replace(tzinfo=UTC)
    return max(0.0, (when - current).total_seconds())
