"""Connectors: the httpx REST source and the destination (the demo source is ``demo``)."""

from __future__ import annotations

from connectors.retry import RetryPolicy, backoff_delay, parse_retry_after
from connectors.source import RestSource, SourceStats

__all__ = [
    "RestSource",
    "RetryPolicy",
    "SourceStats",
    "backoff_delay",
    "parse_retry_after",
]
