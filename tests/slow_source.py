"""A source whose planning is as slow as a test wants: ``count()`` waits for its go."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from tasks.seams import Source


class SlowCount:
    """Counts block until ``go`` is set; pages come from ``inner`` (none: a fixed total)."""

    def __init__(self, inner: Source | None = None, total: int = 250) -> None:
        self.inner, self.total = inner, total
        self.counting = threading.Event()  # set once planning waits in count()
        self.go = threading.Event()

    def count(self, tenant: str, resource: str, updated_since: datetime | None = None) -> int:
        self.counting.set()
        assert self.go.wait(60), "the test never let planning go on"
        return self.inner.count(tenant, resource, updated_since) if self.inner else self.total

    def iter_pages(
        self,
        tenant: str,
        resource: str,
        offset: int,
        limit: int | None,
        updated_since: datetime | None = None,
        should_stop: Callable[[], bool] | None = None,
        **bounds: Any,
    ) -> Iterator[list[dict[str, Any]]]:
        assert self.inner is not None, "planning only"
        return self.inner.iter_pages(
            tenant, resource, offset, limit, updated_since, should_stop, **bounds
        )
