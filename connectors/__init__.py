"""Connectors: the httpx REST source and the demo source app.

The demo source's names load on first use: a chunk task needs only the REST source, and the
demo app would bring FastAPI and uvicorn with it.
"""

from __future__ import annotations

import importlib
from typing import Any

from connectors.retry import RetryPolicy, backoff_delay, parse_retry_after
from connectors.source import RestSource, SourceStats

_DEMO = {
    "DemoStore": "connectors.demo_data",
    "UnknownCollectionError": "connectors.demo_data",
    "DemoFaults": "connectors.demo_faults",
    "DemoStats": "connectors.demo_faults",
    "MalformedRule": "connectors.demo_faults",
    "DemoSourceServer": "connectors.demo_source",
    "create_app": "connectors.demo_source",
    "serve_forever": "connectors.demo_source",
}


def __getattr__(name: str) -> Any:
    if name in _DEMO:
        return getattr(importlib.import_module(_DEMO[name]), name)
    raise AttributeError(f"module 'connectors' has no attribute {name!r}")


__all__ = [
    "DemoFaults",
    "DemoSourceServer",
    "DemoStats",
    "DemoStore",
    "MalformedRule",
    "RestSource",
    "RetryPolicy",
    "SourceStats",
    "UnknownCollectionError",
    "backoff_delay",
    "create_app",
    "parse_retry_after",
    "serve_forever",
]
