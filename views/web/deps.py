"""Per-request access to the ledger and the launcher."""

from __future__ import annotations

from fastapi import Request

from core.settings import get_settings
from ledger.store import Ledger, get_ledger
from views.web.launcher import Launcher


def ledger() -> Ledger:
    return get_ledger(get_settings().database_url)


def launcher_of(request: Request) -> Launcher:
    launcher: Launcher = request.app.state.launcher
    return launcher
