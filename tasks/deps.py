"""What tasks need, built from the settings, so task parameters stay small."""

from __future__ import annotations

import functools
import os
import socket

from connectors.destination import Destination, get_destination
from connectors.source import RestSource
from core.settings import Settings, get_settings
from ledger.store import Ledger, get_ledger
from tasks import prefect_api


def ledger() -> Ledger:
    return get_ledger(get_settings().database_url)


def destination() -> Destination:
    return get_destination(get_settings().destination)


def source() -> RestSource:
    """One shared client per process and settings: building one costs ~35 ms (TLS setup)."""
    return _source(get_settings())


@functools.cache
def _source(settings: Settings) -> RestSource:
    hook = prefect_api.take_rate_limit_slot if settings.source_rate_limit else None
    return RestSource.from_settings(settings, before_request=hook)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
