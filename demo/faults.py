"""Switchable faults and request counters for the demo source.

Faults are plain mutable dataclasses: tests flip them on a running server
(``server.faults.rate_429 = 0.2``) and ``PUT /_demo/faults`` replaces them from JSON.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Annotated, Any, Literal

from pydantic import Field
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from demo.lies import (
    Drip,
    DuplicateRule,
    HugeRecord,
    PageRule,
    dumps,
    duplicate,
    page_response,
)

MalformedKind = Literal["not-json", "missing-items", "missing-total", "bad-items"]
Rate = Annotated[float, Field(ge=0.0, le=1.0)]


@dataclass
class MalformedRule(PageRule):
    """Serve a broken 200 for ``resource`` at ``offset``: always, or for the first ``times``."""

    resource: str
    offset: Annotated[int, Field(ge=0)]
    times: Annotated[int, Field(ge=1)] | None = None
    kind: MalformedKind = "not-json"
    tenant: str | None = None  # None: any tenant


@dataclass
class DemoFaults:
    """What the demo source does wrong. Rates are per request, between 0 and 1.

    ``token``: when set, requests need ``Authorization: Bearer <token>`` (else 401).
    ``page_cap``: at most this many items per response, whatever ``limit`` asked for.
    ``rate_429`` (with ``Retry-After: retry_after`` seconds), ``rate_5xx`` (500/502/503/504)
    and ``rate_drop`` (the connection closes mid-response) share one dice roll per request.
    ``slow_ms``: a pause before every page. ``seed``: repeatable dice.
    ``max_rps``: a load limit per tenant. Once ``max_rps * rps_window`` requests (at least one)
    of a tenant were let through in the last ``rps_window`` seconds, the source answers 429 with
    ``Retry-After: retry_after``. Refused requests do not count: a client that keeps asking gets
    more 429s but does not lock itself out, and only a client that slows down sees fewer.

    Lies (all off by default; "offset" is the one the client asked for unless said otherwise):
    ``ignore_offset``: every page is served as if ``offset`` were 0.
    ``lie_total``: report this ``total`` on every page instead of the real one.
    ``duplicate_ids``: ``DuplicateRule(resource, offset, times=None, tenant=None, index=0)``:
    in that page, item ``index + 1`` is replaced by a copy of item ``index``.
    ``huge_record``: ``HugeRecord(resource, offset, bytes, tenant=None)``: the record at
    position ``offset`` of the served order gets a ``"blob": "xxx..."`` field making its JSON
    about ``bytes`` long; the body is streamed, never built whole.
    ``drip``: ``Drip(chunk_bytes=64, interval_ms=500, resource=None, offset=None, tenant=None)``:
    good pages (not errors, not ``/_demo``) are sent ``chunk_bytes`` at a time with a pause of
    ``interval_ms`` between pieces, so one page is slow but the connection is never idle longer.
    Ids that collide as text (1 and "1") are a tenant's ``id_style="mixed"``, see ``DemoStore``.
    Rules with ``times`` doctor only the first ``times`` matching pages; ``hits`` counts them.
    """

    token: str | None = field(default=None, repr=False)
    page_cap: Annotated[int, Field(ge=1)] | None = None
    rate_429: Rate = 0.0
    retry_after: Annotated[float, Field(ge=0.0)] = 1.0
    rate_5xx: Rate = 0.0
    rate_drop: Rate = 0.0
    slow_ms: Annotated[int, Field(ge=0, le=60_000)] = 0
    malformed: list[MalformedRule] = field(default_factory=list)
    seed: int | None = None
    max_rps: Annotated[float, Field(gt=0.0)] | None = None
    rps_window: Annotated[float, Field(gt=0.0, le=60.0)] = 1.0
    ignore_offset: bool = False
    lie_total: Annotated[int, Field(ge=0)] | None = None
    duplicate_ids: list[DuplicateRule] = field(default_factory=list)
    huge_record: HugeRecord | None = None
    drip: Drip | None = None

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._rng_seed = self.seed
        self._served: dict[str, deque[float]] = {}  # per tenant: when recent pages were served
        self._load_lock = threading.Lock()

    def admit(self, tenant: str, now: float | None = None) -> bool:
        """Whether ``max_rps`` lets this tenant's request through now (and if so, count it)."""
        if self.max_rps is None:
            return True
        now = time.monotonic() if now is None else now
        capacity = max(1, math.floor(self.max_rps * self.rps_window))
        with self._load_lock:
            served = self._served.setdefault(tenant, deque())
            while served and served[0] <= now - self.rps_window:
                served.popleft()
            if len(served) >= capacity:
                return False
            served.append(now)
            return True

    def roll(self) -> float:
        if self.seed != self._rng_seed:  # a test changed the seed on a live server
            self._rng, self._rng_seed = random.Random(self.seed), self.seed
        return self._rng.random()

    def pick(self, choices: tuple[int, ...]) -> int:
        return self._rng.choice(choices)

    def take_malformed(self, tenant: str, resource: str, offset: int) -> MalformedKind | None:
        for rule in self.malformed:
            if rule.take(tenant, resource, offset):
                return rule.kind
        return None

    def page_response(
        self,
        tenant: str,
        resource: str,
        offset: int,
        first: int,
        items: list[dict[str, Any]],
        total: int,
    ) -> Response:
        """A good page, with the lies that apply: ``offset`` was asked for, ``first`` served."""
        for rule in self.duplicate_ids:
            if rule.take(tenant, resource, offset):
                items = duplicate(items, rule.index)
                break
        huge = self.huge_record
        huge_at = huge.index_in(tenant, resource, first, len(items)) if huge else None
        drip = self.drip if self.drip and self.drip.applies(tenant, resource, offset) else None
        return page_response(items, total, huge_at, huge.bytes if huge else 0, drip)

    def replace_with(self, other: DemoFaults) -> None:
        """Become ``other`` in place, so references held elsewhere see the change."""
        for f in fields(self):
            setattr(self, f.name, getattr(other, f.name))
        self._rng, self._rng_seed = random.Random(self.seed), self.seed

    def public(self) -> dict[str, Any]:
        """The faults as JSON, with the token masked and how often each rule has fired."""
        data = {f.name: _plain(getattr(self, f.name)) for f in fields(self)}
        data["token"] = "***" if self.token else None
        return data


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        data = {f.name: getattr(value, f.name) for f in fields(value)}
        return {**data, "hits": value.hits} if isinstance(value, PageRule) else data
    return value


class DemoStats:
    """Source API requests (not ``/_demo``) by outcome: a status code, or "dropped"."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_status: Counter[str] = Counter()

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.by_status.values())

    def record(self, outcome: int | str) -> None:
        with self._lock:
            self.by_status[str(outcome)] += 1

    def count(self, outcome: int | str) -> int:
        with self._lock:
            return self.by_status[str(outcome)]

    def reset(self) -> None:
        with self._lock:
            self.by_status.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            by_status = dict(sorted(self.by_status.items()))
        return {"total": sum(by_status.values()), "by_status": by_status}


# -- how faults look on the wire ----------------------------------------------------------


class ConnectionDropped(Exception):
    """Raised after a response has started, so uvicorn closes the connection mid-body."""


class DroppedResponse(Response):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"items": [', "more_body": True})
        raise ConnectionDropped("demo fault: connection dropped mid-response")


class QuietDrops(logging.Filter):
    """Hide uvicorn's traceback for the drops we cause on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


class StatsMiddleware:
    """Counts source API requests into DemoStats by outcome."""

    def __init__(self, app: ASGIApp, stats: DemoStats) -> None:
        self.app, self.stats = app, stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_demo"):
            await self.app(scope, receive, send)
            return
        status: list[int] = []

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except ConnectionDropped:
            self.stats.record("dropped")
            raise
        except Exception:
            self.stats.record(status[0] if status else 500)
            raise
        self.stats.record(status[0] if status else 500)


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(dumps(content), status_code, headers, media_type="application/json")


def broken_page(kind: MalformedKind, items: list[dict[str, Any]], total: int) -> Response:
    if kind == "not-json":
        return Response("<html><body>502 Bad Gateway</body></html>", media_type="text/html")
    if kind == "missing-items":
        return json_response({"total": total})
    if kind == "missing-total":
        return json_response({"items": items})
    return json_response({"items": [{"name": "no id"}, 42], "total": total})
