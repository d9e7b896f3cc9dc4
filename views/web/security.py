"""Guarding writes with JOBSVIEW_API_TOKEN, and where the server may listen."""

from __future__ import annotations

import ipaddress
import secrets
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request, status

from core.settings import get_settings

LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


MAX_FORM_BYTES = 10_000


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of a small urlencoded form post (pages' forms; no multipart needed)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    body = await request.body()  # cached by Starlette, so reading twice is fine
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "form too large")
    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: value for key, value in pairs}


def token_required() -> bool:
    return get_settings().api_token is not None


async def require_token(request: Request) -> None:
    """A write needs ``Authorization: Bearer <JOBSVIEW_API_TOKEN>`` (or the form's token)."""
    expected = get_settings().api_token
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
