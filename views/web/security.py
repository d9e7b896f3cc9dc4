"""Only the operator drives the web Jobs View.

- ``Host`` must be a loopback name or one of ``JOBSVIEW_ALLOWED_HOSTS``: a DNS-rebound page
  names its own host, so it cannot read or write through the operator's browser.
- A write (any method but GET, HEAD and OPTIONS) whose ``Origin`` (else ``Referer``) is not
  this server is refused. It must also be a request no other page can send: JSON, a bearer
  token, or a form with the CSRF token, a signed double-submit: an HMAC, under a per-process
  secret, of a random value in an HttpOnly cookie.
- With ``JOBSVIEW_API_TOKEN`` set, writes also need it (``require_token``).
- Every answer carries anti-framing, no-sniff and Content-Security-Policy headers.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

from fastapi import HTTPException, Request, status
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from views.web.deps import SettingsDep, settings_of

LOOPBACK_NAMES = {"localhost"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_FORM_BYTES = 10_000

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
CSRF_COOKIE = "jobsview_csrf"
_NONCE = re.compile(r"[A-Za-z0-9_-]{32,64}")

# The pages need only their own /static script and stylesheet, and fetch() to themselves.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]

Refuse = Callable[[Request, str, int], Response]
HostPort = tuple[str, int | None]


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def split_host(value: str) -> HostPort | None:
    """``name[:port]`` (``[v6]:port``, or a bare IPv6 address) as (lowercase name, port)."""
    value = value.strip().lower()
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
        port = rest[1:]
    elif value.count(":") > 1:
        name, port = value, ""
    else:
        name, _, port = value.partition(":")
    if not name or (port and not port.isdigit()):
        return None
    return name.rstrip("."), int(port) if port else None


def parse_allowed_hosts(entries: tuple[str, ...]) -> tuple[HostPort, ...]:
    parsed = [split_host(entry) for entry in entries]
    return tuple(entry for entry in parsed if entry is not None)


def host_allowed(host: str, scheme: str, allowed: tuple[HostPort, ...]) -> bool:
    parsed = split_host(host)
    if parsed is None:
        return False
    name, port = parsed
    if is_loopback(name):
        return True
    port = port or DEFAULT_PORTS.get(scheme)
    return any(name == n and (p is None or p == port) for n, p in allowed)


def same_origin(source: str, host: str) -> bool:
    """Whether the page ``source`` (an Origin or a Referer) is on the host this request was
    sent to. The scheme is not compared: behind a TLS proxy the server itself sees http."""
    parts = urlsplit(source)
    own = split_host(host)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or own is None:
        return False
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return False
    return parts.hostname.rstrip(".") == own[0] and port == (own[1] or DEFAULT_PORTS[parts.scheme])


# -- CSRF: signed double-submit -----------------------------------------------


def _browser_nonce(request: Request) -> str:
    nonce = request.cookies.get(CSRF_COOKIE, "")
    if _NONCE.fullmatch(nonce):
        return nonce
    # First visit: the Guard sets this cookie on the answer (see Guard._send_with_headers).
    fresh: str | None = getattr(request.state, "csrf_new_nonce", None)
    if fresh is None:
        fresh = request.state.csrf_new_nonce = secrets.token_urlsafe(32)
    return fresh


def csrf_token(request: Request) -> str:
    """The token the pages put in their forms; a Jinja global."""
    secret: bytes = request.app.state.csrf_secret
    return hmac.new(secret, _browser_nonce(request).encode(), hashlib.sha256).hexdigest()


def csrf_valid(request: Request, secret: bytes, given: str) -> bool:
    nonce = request.cookies.get(CSRF_COOKIE, "")
    if not given or not _NONCE.fullmatch(nonce):
        return False
    expected = hmac.new(secret, nonce.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(given.encode(), expected.encode())


# -- the middleware -----------------------------------------------------------


class Guard:
    """ASGI middleware: the Host check, then the checks on writes, then the headers."""

    def __init__(
        self, app: ASGIApp, *, allowed_hosts: tuple[str, ...], secret: bytes, refuse: Refuse
    ) -> None:
        self.app = app
        self.allowed = parse_allowed_hosts(allowed_hosts)
        self.secret = secret
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._send_with_headers(scope, send)
        request = Request(scope, receive)
        host = request.headers.get("host", "")
        if not host_allowed(host, scope["scheme"], self.allowed):
            parsed = split_host(host)
            message = (
                f"Host {host[:100]!r} is not allowed: this server answers loopback names "
                "(localhost, 127.0.0.1, ::1) and those in JOBSVIEW_ALLOWED_HOSTS."
            )
            if parsed:
                name = parsed[0]
                message += f" To reach it as {name}, set JOBSVIEW_ALLOWED_HOSTS={name}"
                message += f" (or {name}:{parsed[1]})." if parsed[1] else "."
            await self.refuse(request, message, status.HTTP_400_BAD_REQUEST)(scope, receive, send)
            return
        if request.method not in SAFE_METHODS:
            problem, code, body = await self._check_write(request, host, receive)
            if problem:
                await self.refuse(request, problem, code)(scope, receive, send)
                return
            if body is not None:
                receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _check_write(
        self, request: Request, host: str, receive: Receive
    ) -> tuple[str, int, bytes | None]:
        """A reason to refuse the write ('' for none), its status, and any body read."""
        headers = request.headers
        source = headers.get("origin") or headers.get("referer")
        if source is not None and not same_origin(source, host):
            return (
                f"refused: this change came from a page at {source[:100]!r}, not from this "
                "server's own pages",
                status.HTTP_403_FORBIDDEN,
                None,
            )
        # A browser sends JSON or an Authorization header to another site only after a CORS
        # preflight, which this server never grants: such a request is not cross-site.
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if media == "application/json" or _bearer(request):
            return "", 0, None
        given, body = headers.get(CSRF_HEADER, ""), None
        if not given and media == "application/x-www-form-urlencoded":
            body = await _read_body(receive)
            if body is None:
                return "form too large", status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, None
            given = dict(parse_qsl(body.decode("utf-8", "replace"))).get(CSRF_FIELD, "")
        if csrf_valid(request, self.secret, given):
            return "", 0, body
        if request.url.path.startswith("/api/"):
            return (
                "the API takes JSON: send Content-Type: application/json (or "
                "Authorization: Bearer <JOBSVIEW_API_TOKEN>)",
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                None,
            )
        return (
            "refused: this form has no valid CSRF token (the page may be older than the "
            "server's last start, or the browser refuses cookies). Reload the page and try again.",
            status.HTTP_403_FORBIDDEN,
            None,
        )

    def _send_with_headers(self, scope: Scope, send: Send) -> Send:
        secure = "; Secure" if scope.get("scheme") == "https" else ""

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *HEADERS]
                nonce = scope.get("state", {}).get("csrf_new_nonce")
                if nonce:  # a page rendered a token for a browser without the cookie
                    cookie = f"{CSRF_COOKIE}={nonce}; Path=/; HttpOnly; SameSite=Lax{secure}"
                    headers.append((b"set-cookie", cookie.encode()))
                message = {**message, "headers": headers}
            await send(message)

        return sending


def _bearer(request: Request) -> bool:
    return request.headers.get("authorization", "").lower().startswith("bearer ")


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None past MAX_FORM_BYTES."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if len(body) > MAX_FORM_BYTES:
            return None
        if message["type"] != "http.request" or not message.get("more_body"):
            return body


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the app the body the Guard already read."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


# -- forms and the API token --------------------------------------------------


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of a small urlencoded form post (pages' forms; no multipart needed)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    body = await request.body()  # cached by Starlette, so reading twice is fine
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "form too large")
    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: value for key, value in pairs}


def token_required(request: Request) -> bool:
    return settings_of(request).api_token is not None


async def require_token(request: Request, settings: SettingsDep) -> None:
    """A write needs ``Authorization: Bearer <JOBSVIEW_API_TOKEN>`` (or the form's token)."""
    expected = settings.api_token
    if expected is None:
        return
    given = request.headers.get("authorization", "")
    token = given[7:] if given.lower().startswith("bearer ") else ""
    if not token:
        token = (await form_fields(request)).get("token", "")
    if not secrets.compare_digest(token.encode(), expected.get_secret_value().encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "this server needs JOBSVIEW_API_TOKEN for writes: send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
