"""The httpx client for the Source API: pages from
``GET /tenants/{tenant}/{resource}?offset=&limit=[&updated_since=]``, each ``{"items", "total"}``.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from connectors import bounded
from connectors.responses import (
    Failure,
    Page,
    describe,
    exhausted_error,
    fatal_error,
    is_transient,
    iso_utc,
    parse_page,
    shown,
)
from connectors.retry import RetryPolicy, backoff_delay, parse_retry_after
from connectors.throttle import Throttle
from connectors.window import WindowStats, read_window
from core.errors import ConfigError, FatalSourceError, RecordTooLargeError, StopRequested
from core.redact import has_credentials

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger(__name__)

USER_AGENT = "jobsview/0.1"
MIB = 1024 * 1024


def _call_with(hook: Callable[[str], None], tenant: str, _abort: threading.Event) -> None:
    hook(tenant)  # a hook cannot be told to give up: abandoned, it ends by itself


@dataclass
class SourceStats:
    """HTTP calls made (every try counts) and calls that were retried after a failure."""

    requests: int = 0
    retries: int = 0


class RestSource:
    """Reads pages of a tenant's resources, retrying what may pass and failing fast otherwise.

    One instance may be shared by threads (``httpx.Client`` is thread-safe).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        page_size: int = 100,
        margin: int = 0,
        max_record_bytes: int = 16 * MIB,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.BaseTransport | None = None,
        before_request: Callable[[str], None] | None = None,
        on_throttled: Callable[[str, float | None], None] | None = None,
    ) -> None:
        if page_size < 1 or margin < 0 or max_record_bytes < 1:
            raise ValueError(f"bad page_size {page_size}, margin {margin} or record size")
        self.base_url = base_url.rstrip("/")
        self.page_size, self.margin = page_size, margin
        self.max_record_bytes = max_record_bytes
        # A page may hold two records at the limit: the anchor and the next one.
        self.max_page_bytes = 2 * max_record_bytes
        # Every read waits at most `timeout`; a whole request (a drip of bytes) at most this.
        self.deadline = 4 * timeout
        self.retry = retry
        self.stats = SourceStats()
        self._stats_lock = threading.Lock()
        self._throttles: dict[str, Throttle] = {}
        # e.g. a rate limit shared with other processes: called with the tenant before every
        # try, and with the tenant and the Retry-After seconds (None if absent) on every 429
        self._before_request = before_request
        self._on_throttled = on_throttled
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if token:
            # Checked here because httpx's own complaint about a bad header value quotes it.
            if not token.isascii() or not token.isprintable() or token != token.strip():
                raise ConfigError(
                    "JOBSVIEW_SOURCE_TOKEN contains spaces or characters not allowed in an "
                    "HTTP header"
                )
            if has_credentials(base_url):
                raise ConfigError(
                    "JOBSVIEW_SOURCE_URL holds a user name or password while a source token is "
                    "set; httpx would send the URL's credentials instead: remove them from the URL"
                )
            headers["Authorization"] = f"Bearer {token}"
        # Kept only to scrub messages; httpx masks the Authorization header in its reprs.
        self._secret = token or None
        self._client = httpx.Client(
            headers=headers, timeout=timeout, transport=transport, follow_redirects=False
        )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> RestSource:
        token = settings.source_token.get_secret_value() if settings.source_token else None
        kwargs: dict[str, Any] = {
            "base_url": settings.source_base,
            "token": token,
            "page_size": settings.page_size,
            "margin": settings.margin,
            "max_record_bytes": settings.max_record_bytes,
            "timeout": settings.http_timeout_seconds,
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    def __repr__(self) -> str:
        auth = "set" if self._secret else "unset"
        return (
            f"RestSource(base_url={shown(self.base_url)!r}, token={auth}, "
            f"page_size={self.page_size})"
        )

    def count(self, tenant: str, resource: str, updated_since: datetime | None = None) -> int:
        """The size of the (filtered) collection, as the server reports it now."""
        _, total, _ = self._get_page(tenant, resource, 0, 1, updated_since)
        return total

    def iter_pages(
        self,
        tenant: str,
        resource: str,
        offset: int,
        limit: int | None,
        updated_since: datetime | None = None,
        should_stop: Callable[[], bool] | None = None,
        max_records: int | None = None,
        stats: WindowStats | None = None,
    ) -> Iterator[Page]:
        """New records of the window ``[offset, offset + limit)``, page by page, drift-safe.

        The window starts ``margin`` records early and each page is anchored on the last
        record read (``connectors.window``). ``limit=None`` reads to the end, but at most
        ``max_records`` records. Items keep the server's order.
        """

        def fetch(at: int, ask: int) -> tuple[Page, int]:
            return self.page(tenant, resource, at, ask, updated_since, should_stop)

        return read_window(
            fetch,
            offset=offset,
            limit=limit,
            page_size=self.page_size,
            margin=self.margin,
            max_records=max_records,
            stats=stats,
            tenant=tenant,
            resource=resource,
        )

    def page(
        self,
        tenant: str,
        resource: str,
        offset: int,
        limit: int,
        updated_since: datetime | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> tuple[Page, int]:
        """Up to ``limit`` items from ``offset``, and the collection's size.

        A body over ``max_page_bytes`` is asked for again in halves, so memory stays bounded;
        a record over ``max_record_bytes`` fails with ``RecordTooLargeError``.
        """
        ctx: dict[str, Any] = {"tenant": tenant, "resource": resource, "offset": offset}
        while True:
            try:
                items, total, size = self._get_page(
                    tenant, resource, offset, limit, updated_since, should_stop
                )
                break
            except bounded.BodyTooLarge as exc:
                if limit <= 2:
                    raise RecordTooLargeError(
                        f"a record at offset {offset} or {offset + 1} is over "
                        f"JOBSVIEW_MAX_RECORD_BYTES={self.max_record_bytes:,} bytes (a page of "
                        f"{limit} passed {exc.args[0]:,}); raise the limit or fix the record",
                        **ctx,
                    ) from None
                limit = max(2, limit // 2)
        # Only a body over the record limit can hold a record over it: the rest skip the check.
        for n, item in enumerate(items if size > self.max_record_bytes else ()):
            size = len(json.dumps(item, ensure_ascii=False).encode())
            if size > self.max_record_bytes:
                raise RecordTooLargeError(
                    f"record {item['id']!r} is {size:,} bytes, over "
                    f"JOBSVIEW_MAX_RECORD_BYTES={self.max_record_bytes:,}; raise the limit or "
                    "fix the record",
                    **{**ctx, "offset": offset + n},
                )
        return items, total

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RestSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _get_page(
        self,
        tenant: str,
        resource: str,
        offset: int,
        limit: int,
        updated_since: datetime | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> tuple[Page, int, int]:
        """One page: request, retry transient failures, validate. Returns (items, total, bytes)."""
        ctx: dict[str, Any] = {"tenant": tenant, "resource": resource, "offset": offset}
        url = f"{self.base_url}/tenants/{quote(tenant, safe='')}/{quote(resource, safe='')}"
        params: dict[str, str | int] = {"offset": offset, "limit": limit}
        if updated_since is not None:
            params["updated_since"] = iso_utc(updated_since)  # httpx percent-encodes the '+'
        what = f"{resource} of tenant {tenant} at offset {offset}"
        sleep = self.retry.sleep
        read = functools.partial(
            bounded.read,
            self._client,
            url,
            params,
            max_body=self.max_page_bytes,
            deadline=self.deadline,
        )
        attempt = 0
        while True:
            attempt += 1
            # Checked before every try, so a cancel is not held up by a long retry sequence.
            if should_stop is not None and should_stop():
                raise StopRequested(f"stop requested before reading {what}")
            paused = self._throttle(tenant).remaining()
            bounded.wait(paused, sleep, should_stop, f"waiting to read {what}")
            if self._before_request is not None:
                # A shared rate limit may hold the request for minutes after a 429.
                hook = functools.partial(_call_with, self._before_request, tenant)
                slot = f"waiting for a rate-limit slot to read {what}"
                bounded.until_stopped(hook, should_stop, slot)
            self._count(requests=1)
            retry_after: float | None = None
            failure: Failure
            try:
                response = bounded.until_stopped(read, should_stop, f"reading {what}")
            except httpx.TransportError as exc:
                if not is_transient(exc):
                    raise FatalSourceError(
                        f"cannot talk to the source at {shown(self.base_url)} "
                        f"({type(exc).__name__}); check JOBSVIEW_SOURCE_URL",
                        **ctx,
                    ) from exc
                failure = exc
            else:
                if response.status_code == 200:
                    return (*parse_page(response, ctx, self._secret), len(response.content))
                if not is_transient(response):
                    raise fatal_error(response, ctx, self.base_url, self._secret)
                failure = response
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if response.status_code == 429 and self._on_throttled is not None:
                    self._on_throttled(tenant, retry_after)
            if attempt >= self.retry.attempts:
                error = exhausted_error(
                    failure, attempt, retry_after, ctx, self.base_url, self._secret
                )
                if isinstance(failure, Exception):
                    raise error from failure
                raise error
            delay = backoff_delay(self.retry, attempt, retry_after)
            log.warning(
                "source %s for %s/%s at offset %d; retry %d of %d in %.2fs",
                describe(failure, self._secret),
                tenant,
                resource,
                offset,
                attempt,
                self.retry.attempts - 1,
                delay,
            )
            self._count(retries=1)
            if isinstance(failure, httpx.Response) and failure.status_code == 429:
                self._throttle(tenant).pause(delay)  # every chunk of the tenant waits
            else:
                bounded.wait(delay, sleep, should_stop, f"waiting to read {what}")

    def _throttle(self, tenant: str) -> Throttle:
        with self._stats_lock:
            throttle = self._throttles.get(tenant)
            if throttle is None:
                throttle = self._throttles[tenant] = Throttle()
            return throttle

    def _count(self, requests: int = 0, retries: int = 0) -> None:
        with self._stats_lock:
            self.stats.requests += requests
            self.stats.retries += retries
