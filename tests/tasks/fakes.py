"""In-memory stand-ins for the seams in ``tasks.seams``: fast, and told exactly what to do."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from connectors.window import WindowStats
from core.errors import StopRequested
from tests.factories import make_items


class FakeSource:
    """Each resource is a list of records, read in pages of ``page_size``.

    ``margin`` records before a window's offset are read first and counted in ``stats.lead``,
    as the drift-safe source does. ``fail_on_page`` raises ``error`` instead of that page
    (0-based, for every window); ``before_page`` runs before each page is served.
    """

    def __init__(
        self,
        totals: Mapping[str, int],
        *,
        page_size: int = 40,
        margin: int = 0,
        fail_on_page: int | None = None,
        error: Exception | None = None,
        before_page: Callable[[int], None] | None = None,
    ) -> None:
        self.records = {resource: make_items(n) for resource, n in totals.items()}
        self.page_size, self.margin = page_size, margin
        self.fail_on_page, self.error, self.before_page = fail_on_page, error, before_page
        self.counted: list[tuple[str, str, datetime | None]] = []
        self.windows: list[tuple[str, int, int | None]] = []

    def count(self, tenant: str, resource: str, updated_since: datetime | None = None) -> int:
        self.counted.append((tenant, resource, updated_since))
        return len(self.records[resource])

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
        self.windows.append((resource, offset, limit))
        start = max(offset - self.margin, 0)
        end = None if limit is None else offset + limit
        window = self.records[resource][start:end]
        if stats is not None:
            stats.lead = offset - start
        for number, first in enumerate(range(0, len(window), self.page_size)):
            if self.before_page:
                self.before_page(number)
            if should_stop and should_stop():
                raise StopRequested("stopped while reading")
            if number == self.fail_on_page and self.error is not None:
                raise self.error
            yield window[first : first + self.page_size]


class FakeDestination:
    """Records by (tenant, resource, id), each with the job that last wrote it."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], tuple[str, Mapping[str, Any]]] = {}
        self.writes = 0

    def write_chunk(
        self, tenant: str, resource: str, job_id: str, items: Iterable[Mapping[str, Any]]
    ) -> int:
        chunk = {(tenant, resource, str(item["id"])): (job_id, item) for item in items}
        self.rows.update(chunk)
        self.writes += 1
        return len(chunk)

    def count(self, tenant: str, resource: str | None = None, job_ids: Sequence[str] = ()) -> int:
        return sum(
            1
            for (t, r, _), (job_id, _) in self.rows.items()
            if t == tenant and resource in (None, r) and (not job_ids or job_id in job_ids)
        )
