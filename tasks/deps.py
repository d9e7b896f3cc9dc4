"""What tasks need, built from the settings, so task parameters stay small."""

from __future__ import annotations

import os
import socket

from connectors.destination import Destination, get_destination
from connectors.source import RestSource
from core.settings import get_settings
from ledger.store import Ledger, get_ledger


def ledger() -> Ledger:
    return get_ledger(get_settings().database_url)


def destination() -> Destination:
    return get_destination(get_settings().destination)


def source() -> RestSource:
    return RestSource.from_settings(get_settings())


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
