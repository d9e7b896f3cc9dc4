"""The seams a task's work runs against: real connectors in a run, in-memory fakes in tests."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol

from connectors.window import WindowStats


class Source(Protocol):
    """Reads a tenant's resources (``connectors.source.RestSource``)."""

    def count(self, tenant: str, resource: str, updated_since: datetime | None = None) -> int: ...

    def iter_pages(
        self,
        tenant: str,
        resource: str,
        offset: int,
        limit: int | None,
        updated_since: datetime | None = None,
        should_stop: Callable[[], bool] | None = None,
        max_records: int | None = None,
        stats: WindowStats | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """New records of the window, drift-safe; at most ``max_records`` when open-ended."""
        ...


class Destination(Protocol):
    """Writes a chunk's records atomically (``connectors.destination.Destination``)."""

    def write_chunk(
        self, tenant: str, resource: str, job_id: str, items: Iterable[Mapping[str, Any]]
    ) -> int: ...
