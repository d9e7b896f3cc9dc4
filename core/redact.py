"""Masking secrets in text that is shown: passwords inside URLs."""

from __future__ import annotations

import re

# scheme://user:password@  (the password may hold anything but '@', '/' and whitespace)
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)[^\s/@]+@")
MASK = "***"


def redact_url(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` in it masked."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)


def has_credentials(url: str) -> bool:
    """Whether ``url`` carries a user name or password before its host."""
    _, sep, rest = url.partition("://")
    return bool(sep) and "@" in rest.split("/", 1)[0]
