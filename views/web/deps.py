"""What a request works with: the app's settings, the ledger they name, and the launcher.

``create_app`` keeps the settings it is given on ``app.state``; routes ask for them through
these dependencies, as the FastAPI full-stack template's ``SessionDep`` does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from core.settings import Settings
from ledger.store import Ledger, get_ledger
from views.web.launcher import Launcher


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def ledger_of(settings: Annotated[Settings, Depends(settings_of)]) -> Ledger:
    return get_ledger(settings.database_url)


def launcher_of(request: Request) -> Launcher:
    launcher: Launcher = request.app.state.launcher
    return launcher


SettingsDep = Annotated[Settings, Depends(settings_of)]
LedgerDep = Annotated[Ledger, Depends(ledger_of)]
LauncherDep = Annotated[Launcher, Depends(launcher_of)]
