"""The demo source: a FastAPI app serving the Source API, with the faults and lies tests switch on.

It stands apart from ``connectors`` so that a chunk task, which needs only the REST source, never
loads FastAPI or uvicorn.
"""

from __future__ import annotations

from demo.data import DemoStore, PositionError, UnknownCollectionError
from demo.faults import DemoFaults, DemoStats, MalformedRule
from demo.lies import Drip, DuplicateRule, HugeRecord
from demo.records import BASE_TIME
from demo.source import DemoSourceServer, create_app, serve_forever

__all__ = [
    "BASE_TIME",
    "DemoFaults",
    "DemoSourceServer",
    "DemoStats",
    "DemoStore",
    "Drip",
    "DuplicateRule",
    "HugeRecord",
    "MalformedRule",
    "PositionError",
    "UnknownCollectionError",
    "create_app",
    "serve_forever",
]
