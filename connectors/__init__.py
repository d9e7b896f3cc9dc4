"""Connectors: the httpx REST source and the demo source app."""

from connectors.demo_data import DemoStore, UnknownCollectionError
from connectors.demo_faults import DemoFaults, DemoStats, MalformedRule
from connectors.demo_source import DemoSourceServer, create_app, serve_forever
from connectors.retry import RetryPolicy, backoff_delay, parse_retry_after
from connectors.source import RestSource, SourceStats

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
