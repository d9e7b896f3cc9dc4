"""``jobsview demo``: the quickstart on the embedded defaults, nothing running beforehand."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from core.settings import get_settings
from demo.source import DemoSourceServer

T = TypeVar("T")


def run_demo(run: Callable[[], T]) -> T:
    """Serve the demo source on a free loopback port and point the settings at it for ``run``."""
    with DemoSourceServer() as server:
        saved = os.environ.get("JOBSVIEW_SOURCE_URL")
        os.environ["JOBSVIEW_SOURCE_URL"] = server.url
        get_settings.cache_clear()
        try:
            return run()
        finally:
            if saved is None:
                os.environ.pop("JOBSVIEW_SOURCE_URL", None)
            else:
                os.environ["JOBSVIEW_SOURCE_URL"] = saved
            get_settings.cache_clear()
