"""Turn each resource's record count into chunk windows, numbered across the job."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChunkWindow:
    """Records ``[offset, offset + limit)`` of one resource; ``limit=None`` reads to the end."""

    index: int
    resource: str
    offset: int
    limit: int | None

    @property
    def open_ended(self) -> bool:
        return self.limit is None


def ceil_div(a: int, b: int) -> int:
    """``a / b`` rounded up: the chunks (or pages) that ``a`` items need, ``b`` at a time."""
    return -(-a // b)


def plan_chunks(totals: Iterable[tuple[str, int]], chunk_size: int) -> list[ChunkWindow]:
    """Windows of ``chunk_size`` per resource, in the order given; the last one is open-ended.

    An empty resource gets no window: a later sync picks up what appears after planning.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    windows: list[ChunkWindow] = []
    for resource, total in totals:
        if total < 0:
            raise ValueError(f"total for {resource!r} must not be negative, got {total}")
        count = ceil_div(total, chunk_size)
        for n in range(count):
            last = n == count - 1
            windows.append(
                ChunkWindow(
                    index=len(windows) + 1,
                    resource=resource,
                    offset=n * chunk_size,
                    limit=None if last else chunk_size,
                )
            )
    return windows
