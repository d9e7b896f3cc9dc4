"""API pressure shared across processes: an adaptive Prefect rate limit per tenant.

With ``JOBSVIEW_SOURCE_RATE_LIMIT`` > 0, requests to the source take slots of the tenant's
Prefect global concurrency limit ``jobsview-source-{tenant}``, used as a rate limit
(``slot_decay_per_second`` is the rate, ``limit`` the burst). Every process that syncs the
tenant shares it: Dask workers, and jobs of both sync types. The rate adapts (AIMD):

- A 429 lowers it multiplicatively (to a floor at least) and fills the bucket past its limit,
  so every process waits about the ``Retry-After``. One burst of 429s lowers it once: later
  429s within the hold are ignored, and one that finds the rate lowered by another process
  adopts it.
- Without 429s it rises additively back to the setting (the ceiling). Each process looks at the
  limit once per interval, and a change by another process restarts its interval, so together
  they raise it about one step per interval.

A Prefect call takes tens to hundreds of milliseconds, so a process takes a quarter second's
worth of slots at once, to spend within that time; a 429 or a decrease drops the rest.

With the setting at 0 (the default) there is no shared limit and no Prefect call per request:
each process only pauses itself on a 429 (``connectors.throttle``).

A failing Prefect API never fails a chunk: the failure is logged, the request goes on (the
source's own throttle still honours 429s), and this process leaves the API alone for a while.
There is no compare-and-set on the server, so a raise racing another process's decrease can
undo it; the next 429 lowers it again.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from connectors.retry import MAX_RETRY_AFTER

log = logging.getLogger(__name__)
T = TypeVar("T")


def rate_limit_name(tenant: str) -> str:
    return f"jobsview-source-{tenant}"


def burst(rate: float) -> int:
    """The bucket size for a rate: one second's worth of requests, at least one."""
    return max(1, math.ceil(rate))


@dataclass(frozen=True)
class Limit:
    """A rate limit as the server holds it: ``active_slots`` is after decay."""

    limit: int
    rate: float
    active_slots: int = 0


class LimitStore(Protocol):
    """The seam over Prefect's global concurrency limits, faked in tests."""

    def read(self, name: str) -> Limit | None: ...

    def write(self, name: str, limit: int, rate: float, active_slots: int | None = None) -> None:
        """Create or update the limit; ``active_slots`` None leaves the bucket as it is."""

    def take(self, name: str, slots: int, timeout: float) -> int:
        """Wait for ``slots`` (one if the limit fell below them); how many it took."""


class PrefectLimits:
    """The Prefect API's global concurrency limits."""

    def read(self, name: str) -> Limit | None:
        from prefect import get_client
        from prefect.exceptions import ObjectNotFound

        with get_client(sync_client=True) as client:
            try:
                found = client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                return None
        return Limit(found.limit, found.slot_decay_per_second, found.active_slots)

    def write(self, name: str, limit: int, rate: float, active_slots: int | None = None) -> None:
        from prefect import get_client
        from prefect.client.schemas.actions import (
            GlobalConcurrencyLimitCreate,
            GlobalConcurrencyLimitUpdate,
        )
        from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

        fields: dict[str, Any] = {"limit": limit, "slot_decay_per_second": rate}
        if active_slots is not None:  # left unset, so the server keeps the bucket as it is
            fields["active_slots"] = active_slots
        update = GlobalConcurrencyLimitUpdate(**fields)
        with get_client(sync_client=True) as client:
            try:
                client.update_global_concurrency_limit(name, update)
                return
            except ObjectNotFound:
                pass
            try:
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, **fields)
                )
            except ObjectAlreadyExists:  # another process created it meanwhile
                client.update_global_concurrency_limit(name, update)

    def take(self, name: str, slots: int, timeout: float) -> int:
        from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
        from prefect.concurrency.sync import rate_limit

        try:
            rate_limit(name, occupy=slots, timeout_seconds=timeout, strict=False)
            return slots
        except ConcurrencySlotAcquisitionError:  # e.g. the limit is now below ``slots``
            if slots == 1:
                raise
        rate_limit(name, occupy=1, timeout_seconds=timeout, strict=False)
        return 1


@dataclass(frozen=True)
class Aimd:
    """How the shared rate adapts; fractions are of the ceiling."""

    decrease: float = 0.5  # a 429 multiplies the rate by this...
    floor: float = 0.05  # ...but never below this fraction of the ceiling
    step: float = 0.05  # a raise adds this fraction of the ceiling
    interval: float = 2.0  # seconds between looks at the shared limit, and between raises
    default_hold: float = 1.0  # the hold after a 429 without Retry-After
    min_debounce: float = 1.0  # 429s this soon after a decrease belong to the same burst
    batch: float = 0.25  # seconds' worth of slots taken at once, and spent within as long
    api_backoff: float = 30.0  # after a failed Prefect call, seconds without calling it
    take_timeout: float = 2 * MAX_RETRY_AFTER  # then go on without a slot


@dataclass
class _Tenant:
    """What this process knows of a tenant's shared limit."""

    known: float | None = None  # the rate as this process last saw or set it
    looked_at: float = -math.inf
    changed_at: float = -math.inf  # when the rate last changed, as far as this process knows
    quiet_until: float = -math.inf  # 429s before this belong to a burst already answered
    api_down_until: float = -math.inf
    slots: int = 0  # taken and not yet spent...
    slots_until: float = -math.inf  # ...spendable until then
    lock: threading.Lock = field(default_factory=threading.Lock)


class SharedPressure:
    """The ``before_request`` and ``on_throttled`` hooks of a ``RestSource``, one per process."""

    def __init__(
        self,
        ceiling: float,
        store: LimitStore | None = None,
        policy: Aimd = Aimd(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ceiling <= 0:
            raise ValueError(f"the ceiling must be positive, got {ceiling}")
        self.ceiling, self.policy, self.clock = ceiling, policy, clock
        self.store: LimitStore = store if store is not None else PrefectLimits()
        self.floor = ceiling * policy.floor
        self._tenants: dict[str, _Tenant] = {}
        self._lock = threading.Lock()

    def before_request(self, tenant: str) -> None:
        """Look at the shared limit once per interval (raising it if due), then spend a slot."""
        state = self._tenant(tenant)
        self._look(tenant, state)
        with state.lock:
            if state.slots > 0 and self.clock() < state.slots_until:
                state.slots -= 1
                return
            # At most the limit after one more decrease (more than the limit is refused).
            wanted = max(1, math.floor((state.known or 0) * self.policy.batch))
        name, timeout = rate_limit_name(tenant), self.policy.take_timeout
        take = lambda: self.store.take(name, wanted, timeout)  # noqa: E731
        ok, taken = self._call(tenant, state, "take a slot of", take)
        if ok and taken:
            with state.lock:
                state.slots, state.slots_until = taken - 1, self.clock() + self.policy.batch

    def on_throttled(self, tenant: str, retry_after: float | None) -> None:
        """A 429: lower the shared rate and hold every process back for about ``retry_after``."""
        hold = self.policy.default_hold if retry_after is None else retry_after
        hold = min(max(hold, 0.0), MAX_RETRY_AFTER)
        state = self._tenant(tenant)
        now = self.clock()
        with state.lock:
            state.slots = 0
            if now < state.quiet_until:
                return
            state.quiet_until = now + max(hold, self.policy.min_debounce)
        ok, current = self._read(tenant, state)
        if not ok:
            return
        if current is not None and state.known is not None and current.rate < state.known:
            log.info("shared source rate of %s already lowered to %g/s", tenant, current.rate)
            self._known(state, current.rate, now)
            return
        base = current.rate if current is not None and current.rate > 0 else self.ceiling
        rate = max(self.floor, min(base, self.ceiling) * self.policy.decrease)
        slots = burst(rate) - 1 + math.ceil(hold * rate)  # full until ~hold seconds of decay
        if self._write(tenant, state, "lower", rate, slots):
            self._known(state, rate, now)
            log.warning(
                "429 for %s: shared source rate %g -> %g/s, held %.1fs", tenant, base, rate, hold
            )

    def _tenant(self, tenant: str) -> _Tenant:
        with self._lock:
            return self._tenants.setdefault(tenant, _Tenant())

    def _known(self, state: _Tenant, rate: float, now: float) -> None:
        with state.lock:
            if state.known is not None and rate < state.known:
                state.slots = 0  # taken at the old rate
            state.known, state.changed_at = rate, now

    def _look(self, tenant: str, state: _Tenant) -> None:
        """Once per interval: learn the shared rate; repair it, or raise it one step if due."""
        now = self.clock()
        with state.lock:
            if now - state.looked_at < self.policy.interval or now < state.api_down_until:
                return
            state.looked_at = now
        ok, current = self._read(tenant, state)
        if not ok:
            return
        if current is None or not 0 < current.rate <= self.ceiling:
            # missing (never ensured, or deleted), unusable, or above a lowered ceiling
            slots = None if current is None else current.active_slots
            if self._write(tenant, state, "set", self.ceiling, slots):
                self._known(state, self.ceiling, now)
            return
        if state.known != current.rate:
            # the first look, or another process changed it: adopt it, raise an interval later
            self._known(state, current.rate, -math.inf if state.known is None else now)
            return
        holding = current.active_slots > current.limit  # only a hold fills it past the limit
        due = now - state.changed_at >= self.policy.interval and now >= state.quiet_until
        if current.rate >= self.ceiling or holding or not due:
            return
        rate = min(self.ceiling, current.rate + self.policy.step * self.ceiling)
        # The bucket as read, decayed: a write without it would revive the last stored count.
        if self._write(tenant, state, "raise", rate, current.active_slots):
            self._known(state, rate, now)
            log.info("no 429 for %s: shared source rate %g -> %g/s", tenant, current.rate, rate)

    def _read(self, tenant: str, state: _Tenant) -> tuple[bool, Limit | None]:
        return self._call(tenant, state, "read", lambda: self.store.read(rate_limit_name(tenant)))

    def _write(
        self, tenant: str, state: _Tenant, what: str, rate: float, slots: int | None = None
    ) -> bool:
        name = rate_limit_name(tenant)
        write = lambda: self.store.write(name, burst(rate), rate, slots)  # noqa: E731
        return self._call(tenant, state, what, write)[0]

    def _call(
        self, tenant: str, state: _Tenant, what: str, fn: Callable[[], T]
    ) -> tuple[bool, T | None]:
        """``(True, fn())``; or, if the API is failing, ``(False, None)``, logged once."""
        if self.clock() < state.api_down_until:
            return False, None
        try:
            return True, fn()
        except Exception as exc:
            with state.lock:
                state.api_down_until = self.clock() + self.policy.api_backoff
            why, pause = f"{type(exc).__name__}: {exc}", self.policy.api_backoff
            log.warning(
                "could not %s the shared rate limit of %s (%s); going on without it for %.0fs",
                what,
                tenant,
                why,
                pause,
            )
            return False, None


def ensure_rate_limit(tenant: str, per_second: float, store: LimitStore | None = None) -> None:
    """Create the tenant's shared rate limit at ``per_second``, or bring it down to it.

    A rate that a 429 lowered stays lowered (other jobs may be meeting the same pressure):
    the shared limit rises back by itself.
    """
    store = store if store is not None else PrefectLimits()
    name = rate_limit_name(tenant)
    try:
        current = store.read(name)
        if current is None:
            store.write(name, burst(per_second), per_second)
        elif not 0 < current.rate <= per_second or current.limit != burst(current.rate):
            rate = current.rate if 0 < current.rate <= per_second else per_second
            store.write(name, burst(rate), rate, current.active_slots)
    except Exception as exc:
        why = f"{type(exc).__name__}: {exc}"
        log.warning("could not set up the shared rate limit of %s (%s); going on", tenant, why)
