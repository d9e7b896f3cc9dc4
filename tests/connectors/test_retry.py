"""Backoff growth, caps and jitter; Retry-After parsing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from connectors.retry import MAX_RETRY_AFTER, RetryPolicy, backoff_delay, parse_retry_after

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def test_backoff_doubles_then_caps() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0, jitter=0.0)
    delays = [backoff_delay(policy, attempt, None) for attempt in range(1, 10)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_backoff_survives_absurd_attempt_numbers() -> None:
    policy = RetryPolicy(jitter=0.0)
    assert backoff_delay(policy, 10_000, None) == policy.max_delay
    assert backoff_delay(policy, 0, None) == policy.base_delay


@pytest.mark.parametrize("jitter", [0.0, 0.25, 0.5, 1.0])
def test_jitter_stays_within_its_share_of_the_delay(jitter: float) -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, jitter=jitter)
    rng = random.Random(1)
    for attempt in range(1, 8):
        full = min(8.0, 2.0 ** (attempt - 1))
        for _ in range(200):
            delay = backoff_delay(policy, attempt, None, rand=rng.random)
            assert full * (1 - jitter) <= delay <= full
    # the extremes of the random draw hit the bounds exactly
    assert backoff_delay(policy, 3, None, rand=lambda: 0.0) == 4.0
    assert backoff_delay(policy, 3, None, rand=lambda: 1.0) == pytest.approx(4.0 * (1 - jitter))


def test_jitter_actually_varies_the_delay() -> None:
    policy = RetryPolicy(base_delay=1.0, jitter=0.5)
    assert len({backoff_delay(policy, 4, None) for _ in range(50)}) > 1


def test_retry_after_is_a_floor() -> None:
    policy = RetryPolicy(base_delay=0.5, jitter=0.0)
    assert backoff_delay(policy, 1, 7.0) == 7.0
    assert backoff_delay(policy, 6, 1.0) == 16.0  # our own backoff is already longer
    assert backoff_delay(policy, 1, 0.0) == 0.5
    assert backoff_delay(policy, 1, 86_400.0) == MAX_RETRY_AFTER == 300.0


def test_policy_validates_and_hides_sleep() -> None:
    calls: list[float] = []
    policy = RetryPolicy(attempts=2, sleep=calls.append)
    assert policy == RetryPolicy(attempts=2)  # sleep is not compared
    assert "sleep" not in repr(policy)
    policy.sleep(1.5)
    assert calls == [1.5]
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=1.5)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(base_delay=-1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3.0), ("0.5", 0.5), (" 7 ", 7.0), ("0", 0.0), ("-4", 0.0), ("120", 120.0)],
)
def test_retry_after_seconds(value: str, expected: float) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_retry_after_http_date() -> None:
    later = format_datetime(NOW + timedelta(seconds=42), usegmt=True)
    assert later.endswith("GMT")
    assert parse_retry_after(later, now=NOW) == 42.0


def test_retry_after_http_date_defaults_to_the_real_clock() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    seconds = parse_retry_after(later)
    assert seconds is not None and 25.0 <= seconds <= 30.0


def test_retry_after_past_date_means_now() -> None:
    earlier = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(earlier, now=NOW) == 0.0


def test_retry_after_other_date_forms() -> None:
    # obsolete RFC 850 form and "-0000" (a naive result) are both read as GMT
    assert parse_retry_after("Sunday, 01-Mar-26 12:00:10 GMT", now=NOW) == 10.0
    assert parse_retry_after("Sun, 01 Mar 2026 12:00:05 -0000", now=NOW) == 5.0
    naive_now = NOW.replace(tzinfo=None)
    assert parse_retry_after("Sun, 01 Mar 2026 12:00:05 GMT", now=naive_now) == 5.0


@pytest.mark.parametrize("value", [None, "", "   ", "soon", "nan", "inf", "3 seconds", "Mon, 99"])
def test_retry_after_garbage_is_none(value: str | None) -> None:
    assert parse_retry_after(value, now=NOW) is None
