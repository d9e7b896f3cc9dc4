"""What the source's answers mean: page validation and turning failures into our errors.

Kept apart from the client so the request/retry loop in ``source.py`` reads top to bottom.
Every message goes through ``scrub`` so a token echoed by a server is never repeated.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NoReturn

import httpx

from core.errors import (
    FatalSourceError,
    MalformedPageError,
    SourceAuthError,
    SourceError,
    SourceNotFoundError,
    TransientSourceError,
)

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
EXCERPT_CHARS = 200

Page = list[dict[str, Any]]
Failure = httpx.TransportError | httpx.Response


def iso_utc(moment: datetime) -> str:
    """ISO-8601 with an explicit offset; a naive datetime is taken as UTC (SQLite drops zones)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def shown(url: str) -> str:
    """The URL without any user:password part, for messages."""
    try:
        return str(httpx.URL(url).copy_with(userinfo=b""))
    except (httpx.InvalidURL, TypeError, ValueError):
        return "<invalid URL>"


def excerpt(response: httpx.Response, secret: str | None) -> str:
    """At most EXCERPT_CHARS of the body, on one line."""
    try:
        text = response.text
    except (UnicodeDecodeError, LookupError):
        return "<undecodable body>"
    text = scrub(" ".join(text.split()), secret)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def is_transient(failure: Failure) -> bool:
    if isinstance(failure, httpx.Response):
        return failure.status_code in TRANSIENT_STATUSES
    # A bad URL scheme or a malformed request of our own will not get better by retrying.
    return not isinstance(failure, httpx.UnsupportedProtocol | httpx.LocalProtocolError)


def describe(failure: Failure, secret: str | None) -> str:
    if isinstance(failure, httpx.Response):
        body = excerpt(failure, secret)
        return f"answered {failure.status_code}" + (f": {body}" if body else "")
    detail = f": {failure}" if str(failure) else ""
    return scrub(f"failed with {type(failure).__name__}{detail}", secret)


def parse_page(
    response: httpx.Response, ctx: dict[str, Any], secret: str | None
) -> tuple[Page, int]:
    """The items and total of a 200, or MalformedPageError naming resource and offset."""

    def bad(why: str) -> NoReturn:
        raise MalformedPageError(f"malformed page: {why}", status_code=200, **ctx)

    try:
        body = response.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        bad(f"the body is not JSON: {excerpt(response, secret)!r}")
    if not isinstance(body, dict):
        bad(f"the body is a JSON {type(body).__name__}, not an object")
    items, total = body.get("items"), body.get("total")
    if not isinstance(items, list):
        bad("'items' is missing or not a list")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        bad("'total' is missing or not a non-negative integer")
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            bad(f"item {n} is a {type(item).__name__}, not an object")
        ident = item.get("id")
        if not isinstance(ident, str | int) or isinstance(ident, bool):
            bad(f"item {n} has no string or integer 'id'")
    return items, total


def fatal_error(
    response: httpx.Response, ctx: dict[str, Any], base_url: str, secret: str | None
) -> FatalSourceError:
    """The error for a status that retrying cannot fix (any non-200 that is not transient)."""
    status = response.status_code
    detail = excerpt(response, secret)
    suffix = f": {detail}" if detail else ""
    if status in (401, 403):
        hint = "check JOBSVIEW_SOURCE_TOKEN" if secret else "set JOBSVIEW_SOURCE_TOKEN"
        sent = "refused the token" if secret else "needs a token and none was sent"
        return SourceAuthError(
            f"authentication failed: the source {sent} (HTTP {status}{suffix}); {hint}",
            status_code=status,
            **ctx,
        )
    if status == 404:
        return SourceNotFoundError(
            f"unknown tenant or resource: the source at {shown(base_url)} has no "
            f"{ctx['tenant']}/{ctx['resource']}{suffix}",
            status_code=status,
            **ctx,
        )
    if 300 <= status < 400:
        # Not followed: a redirect elsewhere would be a surprising place to send the token.
        where = scrub(shown(response.headers.get("Location", "")), secret)
        return FatalSourceError(
            f"the source redirected to {where}; point JOBSVIEW_SOURCE_URL at the final address",
            status_code=status,
            **ctx,
        )
    return FatalSourceError(f"the source rejected the request{suffix}", status_code=status, **ctx)


def exhausted_error(
    failure: Failure,
    attempts: int,
    retry_after: float | None,
    ctx: dict[str, Any],
    base_url: str,
    secret: str | None,
) -> SourceError:
    """The error once every try failed transiently; a refused connection gets a setup hint."""
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    if isinstance(failure, httpx.ConnectError):
        reason = f" ({failure})" if str(failure) else ""
        message = (
            f"cannot reach the source at {shown(base_url)} after {tries}{reason}; "
            "check JOBSVIEW_SOURCE_URL, or start the demo source with `jobsview demo-source`"
        )
    else:
        message = f"the source kept failing ({describe(failure, secret)}) after {tries}"
    status = failure.status_code if isinstance(failure, httpx.Response) else None
    return TransientSourceError(
        scrub(message, secret), retry_after=retry_after, status_code=status, **ctx
    )
