"""The adaptive shared rate limit: AIMD over an in-memory fake, and once over the real server."""

from __future__ import annotations

import itertools
import logging
import math
import time
import uuid

import pytest
from prefect import get_client

from connectors.retry import MAX_RETRY_AFTER
from core.settings import load_settings
from flows import runtime
from flows.pressure import (
    Limit,
    PrefectLimits,
    SharedPressure,
    ensure_rate_limit,
    rate_limit_name,
)

NAME = rate_limit_name("acme")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class FakeLimits:
    """Prefect's global concurrency limits in memory: the bucket decays at the rate.

    Several ``SharedPressure`` objects over one fake stand for several processes.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.limits: dict[str, tuple[int, float, int, float]] = {}  # limit, rate, slots, when
        self.writes: list[tuple[str, int, float, int | None]] = []
        self.reads = self.takes = self.slots = 0
        self.failing = False

    def read(self, name: str) -> Limit | None:
        self._maybe_fail()
        self.reads += 1
        return self._current(name)

    def _current(self, name: str) -> Limit | None:
        if name not in self.limits:
            return None
        limit, rate, slots, when = self.limits[name]
        return Limit(limit, rate, max(0, slots - math.floor(rate * (self.clock() - when))))

    def write(self, name: str, limit: int, rate: float, active_slots: int | None = None) -> None:
        self._maybe_fail()
        self.writes.append((name, limit, rate, active_slots))
        current = self._current(name)
        slots = active_slots if active_slots is not None else current.active_slots if current else 0
        self.limits[name] = (limit, rate, slots, self.clock())

    def take(self, name: str, slots: int, timeout: float) -> int:
        self._maybe_fail()
        self.takes += 1
        self.slots += slots
        return slots

    def rate(self, name: str = NAME) -> float:
        return self.limits[name][1]

    def _maybe_fail(self) -> None:
        if self.failing:
            raise ConnectionError("Prefect API unreachable")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> FakeLimits:
    store = FakeLimits(clock)
    ensure_rate_limit("acme", 20, store)
    store.reads = 0
    return store


def process(store: FakeLimits, clock: Clock, ceiling: float = 20) -> SharedPressure:
    """One process's hooks, after its first request (which learns the shared rate)."""
    pressure = SharedPressure(ceiling, store, clock=clock)
    pressure.before_request("acme")
    return pressure


def test_requests_take_slots_a_quarter_second_at_a_time(store: FakeLimits, clock: Clock) -> None:
    pressure = process(store, clock)  # at 20/s: 5 slots per call
    for _ in range(9):
        pressure.before_request("acme")
    assert (store.takes, store.slots, store.reads) == (2, 10, 1)
    clock.now += 0.3  # the 10th slot was not spent in time: it lapses
    pressure.before_request("acme")
    assert (store.takes, store.slots, store.reads) == (3, 15, 1)
    clock.now += 2.0  # an interval later: one more look at the limit
    pressure.before_request("acme")
    assert (store.takes, store.reads) == (4, 2)
    assert store.limits[NAME][:2] == (20, 20.0) and len(store.writes) == 1  # ensure's only


def test_a_429_drops_the_slots_in_hand(store: FakeLimits, clock: Clock) -> None:
    pressure = process(store, clock)
    pressure.on_throttled("acme", 1.0)
    pressure.before_request("acme")
    assert (store.takes, store.slots) == (2, 5 + 2)  # at 10/s: 2 slots per call
    other = process(store, clock)
    other.on_throttled("acme", 1.0)  # adopts 10/s
    clock.now += 2.0
    pressure.on_throttled("acme", 1.0)  # a new burst: 5/s
    clock.now += 2.0
    other.before_request("acme")  # sees the decrease: its spare slot is dropped
    assert store.slots == 7 + 2 + 1


def test_a_429_lowers_the_rate_and_holds_everyone_for_the_retry_after(
    store: FakeLimits, clock: Clock
) -> None:
    pressure = process(store, clock)
    pressure.on_throttled("acme", 2.0)
    limit = store.read(NAME)
    # limit 10 at 10/s: 9 + 20 slots, so a slot frees up after 2 s of decay
    assert limit == Limit(10, 10.0, 29)
    clock.now += 1.9
    assert store.read(NAME).active_slots >= 10  # type: ignore[union-attr]
    clock.now += 0.2
    assert store.read(NAME).active_slots <= 9  # type: ignore[union-attr]


def test_one_burst_of_429s_lowers_it_once(store: FakeLimits, clock: Clock) -> None:
    pressure = process(store, clock)
    for _ in range(5):
        pressure.on_throttled("acme", 1.0)
        clock.now += 0.1
    assert store.rate() == 10.0 and len(store.writes) == 2
    clock.now += 1.0  # past the hold: a 429 now means the rate is still too high
    pressure.on_throttled("acme", 1.0)
    assert store.rate() == 5.0


def test_a_burst_seen_by_two_processes_lowers_it_once(store: FakeLimits, clock: Clock) -> None:
    one, two = process(store, clock), process(store, clock)
    one.on_throttled("acme", 1.0)
    clock.now += 0.05
    two.on_throttled("acme", 1.0)
    assert store.rate() == 10.0 and len(store.writes) == 2


def test_the_rate_never_drops_below_the_floor(store: FakeLimits, clock: Clock) -> None:
    pressure = process(store, clock)
    for _ in range(10):
        pressure.on_throttled("acme", 1.0)
        clock.now += 1.5
    assert store.rate() == pytest.approx(1.0)  # 5% of the ceiling
    assert store.limits[NAME][0] == 1


def test_without_429s_it_rises_additively_back_to_the_ceiling(
    store: FakeLimits, clock: Clock
) -> None:
    pressure = process(store, clock)
    pressure.on_throttled("acme", 1.0)
    seen = []
    for _ in range(60):  # a request every half second for 30 s
        clock.now += 0.5
        pressure.before_request("acme")
        seen.append(store.rate())
    steps = sorted(set(seen))
    assert steps[0] == 10.0 and steps[-1] == 20.0
    assert all(b - a == pytest.approx(1.0) for a, b in itertools.pairwise(steps))
    first_raise = next(i for i, rate in enumerate(seen) if rate > 10.0)
    assert first_raise >= 3  # not while the hold runs down, nor right after the decrease
    assert seen[-1] == 20.0 and store.limits[NAME][0] == 20


def test_a_bucket_full_from_use_is_no_hold(store: FakeLimits, clock: Clock) -> None:
    pressure = process(store, clock)
    store.write(NAME, 10, 10.0)  # lowered by another process
    clock.now += 2.0
    pressure.before_request("acme")  # adopts it
    clock.now += 2.0
    store.limits[NAME] = (10, 10.0, 10, clock.now)  # requests keep the bucket full
    pressure.before_request("acme")
    assert store.rate() == 11.0


def test_two_processes_together_raise_it_about_once_per_interval(
    store: FakeLimits, clock: Clock
) -> None:
    one, two = process(store, clock), process(store, clock)
    one.on_throttled("acme", 1.0)
    lowered = len(store.writes)
    for _ in range(20):  # 10 s, each process making two requests a second
        clock.now += 0.25
        one.before_request("acme")
        clock.now += 0.25
        two.before_request("acme")
    raises = store.writes[lowered:]
    assert 3 <= len(raises) <= 5, raises  # one per 2 s interval, not one per process


def test_missing_retry_after_holds_one_second_and_a_huge_one_is_capped(
    store: FakeLimits, clock: Clock
) -> None:
    pressure = process(store, clock)
    pressure.on_throttled("acme", None)
    assert store.read(NAME) == Limit(10, 10.0, 9 + 10)
    clock.now += 2.0
    pressure.on_throttled("acme", 10_000.0)
    assert store.read(NAME) == Limit(5, 5.0, 4 + math.ceil(MAX_RETRY_AFTER * 5))


def test_a_deleted_or_raised_limit_is_put_back(store: FakeLimits, clock: Clock) -> None:
    pressure = process(store, clock)
    del store.limits[NAME]
    clock.now += 2.0
    pressure.before_request("acme")
    assert store.limits[NAME][:2] == (20, 20.0)
    store.write(NAME, 50, 50.0)  # e.g. a ceiling lowered since the limit was made
    clock.now += 2.0
    pressure.before_request("acme")
    assert store.rate() == 20.0


def test_prefect_api_failures_never_fail_a_request(
    store: FakeLimits, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    pressure = process(store, clock)
    store.failing = True
    with caplog.at_level(logging.WARNING, logger="flows.pressure"):
        clock.now += 2.0
        for _ in range(5):
            pressure.before_request("acme")
            pressure.on_throttled("acme", 1.0)
    assert len(caplog.records) == 1 and "going on without it" in caplog.text
    store.failing = False
    pressure.before_request("acme")  # still backing off: no call
    assert store.takes == 1
    clock.now += 30.0
    pressure.before_request("acme")
    assert store.takes == 2
    clock.now += 1.0
    pressure.before_request("acme")
    assert store.takes == 3


def test_ensure_rate_limit_keeps_a_lowered_rate_and_never_fails(
    store: FakeLimits, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    assert store.limits[NAME][:2] == (20, 20.0)
    process(store, clock).on_throttled("acme", 1.0)
    ensure_rate_limit("acme", 20, store)
    assert store.rate() == 10.0  # learned pressure is kept: it rises back by itself
    ensure_rate_limit("acme", 8, store)
    assert store.limits[NAME][:2] == (8, 8.0)  # a lower ceiling applies at once
    store.failing = True
    with caplog.at_level(logging.WARNING, logger="flows.pressure"):
        ensure_rate_limit("acme", 8, store)
    assert "going on" in caplog.text


def test_runtime_source_has_the_hooks_only_with_a_rate_limit() -> None:
    plain = runtime.source(load_settings())
    assert plain._before_request is None and plain._on_throttled is None
    limited = runtime.source(load_settings(source_rate_limit=5.0))
    assert limited._before_request is not None and limited._on_throttled is not None


def test_against_the_prefect_server() -> None:
    tenant = f"pressure-{uuid.uuid4().hex[:8]}"
    name = rate_limit_name(tenant)
    ensure_rate_limit(tenant, 10)
    offset = [0.0]
    pressure = SharedPressure(10, clock=lambda: time.monotonic() + offset[0])
    try:
        pressure.before_request(tenant)
        pressure.on_throttled(tenant, 1.5)
        with get_client(sync_client=True) as client:
            limit = client.read_global_concurrency_limit_by_name(name)
        assert (limit.limit, limit.slot_decay_per_second) == (5, 5.0)
        assert limit.active_slots >= 4 + 8 - 2  # filled for the hold (some may have decayed)
        started = time.monotonic()
        PrefectLimits().take(name, 1, timeout=30)  # another process waits out the hold
        assert time.monotonic() - started >= 0.7
        offset[0] += 5.0  # the interval and the hold have passed
        pressure.before_request(tenant)
        raised = PrefectLimits().read(name)
        assert raised is not None and (raised.limit, raised.rate) == (6, 5.5)
        assert raised.active_slots <= 6  # the raise kept the bucket, and no hold came back
    finally:
        with get_client(sync_client=True) as client:
            client.delete_global_concurrency_limit_by_name(name)
