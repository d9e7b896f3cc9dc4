"""The httpx client for the Source API contract (see DESIGN.md, "Source API contract")."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

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
from core.errors import ConfigError, FatalSourceError, StopRequested
from core.redact import has_credentials

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger(__name__)

USER_AGENT = "jobsview/0.1"


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
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.BaseTransport | None = None,
        before_request: Callable[[str], None] | None = None,
        on_throttled: Callable[[str, float | None], None] | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
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
        _, total = self._get_page(tenant, resource, 0, 1, updated_since)
        return total

    def iter_pages(
        self,
        tenant: str,
        resource: str,
        offset: int,
        limit: int | None,
        updated_since: datetime | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Iterator[Page]:
        """Pages of the window ``[offset, offset + limit)``, or to the end when ``limit`` is None.

        Advances by what the server returned, not by what was asked for, since servers may cap
        pages; stops at an empty page or a full window. Items keep the server's order.
        """
        if offset < 0 or (limit is not None and limit < 0):
            raise ValueError(f"bad window: offset={offset}, limit={limit}")
        position, remaining = offset, limit
        while remaining is None or remaining > 0:
            ask = self.page_size if remaining is None else min(self.page_size, remaining)
            items, _ = self._get_page(tenant, resource, position, ask, updated_since, should_stop)
            if not items:
                return
            # A server that ignores `limit` must not push the next chunk's records into this one.
            items = items[:ask]
            yield items
            position += len(items)
            if remaining is not None:
                remaining -= len(items)

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
    ) -> tuple[Page, int]:
        """One page: request, retry transient failures, validate. Returns (items, total)."""
        ctx: dict[str, Any] = {"tenant": tenant, "resource": resource, "offset": offset}
        url = f"{self.base_url}/tenants/{quote(tenant, safe='')}/{quote(resource, safe='')}"
        params: dict[str, str | int] = {"offset": offset, "limit": limit}
        if updated_since is not None:
            params["updated_since"] = iso_utc(updated_since)  # httpx percent-encodes the '+'
        attempt = 0
        while True:
            attempt += 1
            # Checked before every try, so a cancel is not held up by a long retry sequence.
            if should_stop is not None and should_stop():
                raise StopRequested(
                    f"stop requested before reading {resource} of tenant {tenant} "
                    f"at offset {offset}"
                )
            throttle = self._throttle(tenant)
            throttle.wait()
            if self._before_request is not None:
                self._before_request(tenant)
            self._count(requests=1)
            retry_after: float | None = None
            failure: Failure
            try:
                response = self._client.get(url, params=params)
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
                    return parse_page(response, ctx, self._secret)
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
                throttle.pause(delay)  # every chunk of the tenant waits, not just this one
            else:
                self.retry.sleep(delay)

    def _throttle(self, tenant: str) -> Throttle:
        with self._stats_lock:
            throttle = self._throttles.get(tenant)
            if throttle is None:
                throttle = self._throttles[tenant] = Throttle(sleep=self.retry.sleep)
            return throttle

    def _count(self, requests: int = 0, retries: int = 0) -> None:
        with self._stats_lock:
            self.stats.requests += requests
            self.stats.retries += retries
