"""Reading one chunk's window so that records moving under it are not lost.

Offset pages shift when records ahead of a position are inserted or deleted during a run.
Two habits keep every record that lives through the run, within ``margin`` such changes:

- A window starts ``margin`` records early. A record that moved left, out of the span the
  previous chunk still had to read, is read here; the upsert makes the overlap harmless.
- Each page after the first starts one record early, at the last record read (the anchor). If
  the anchor is not first, records moved: the anchor (or, if it was deleted, the latest record
  read that survives) is looked up in a page reaching ``margin`` records further back, and
  reading goes on right after it.

A source that lies is bounded too: a page that brings nothing new, an open-ended window that
keeps growing, and ids that repeat all fail the chunk with ``InconsistentPagesError``. A
``total`` that over-counts is not believed: a page that holds nothing past the anchor ends it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from core.errors import InconsistentPagesError

Page = list[dict[str, Any]]
# (offset, limit) -> the items there (a server may send fewer) and the collection's size
Fetch = Callable[[int, int], tuple[Page, int]]


@dataclass
class WindowStats:
    """Records read from the margin before the window (``lead``, stored already by the chunk
    before), and records seen moving or repeating."""

    lead: int = 0
    moves: int = 0
    duplicates: int = 0
    example: str | None = None
    _seen: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    def check(self, items: Page) -> None:
        """Count repeated ids: a copy of a record, or ids equal only as text (1 and "1")."""
        for item in items:
            key = str(item["id"])
            before = self._seen.get(key)
            self._seen[key] = item
            # Same id, new content: the record was updated and moved on; the newer one wins.
            if before is not None and (before == item or before["id"] != item["id"]):
                self.duplicates += 1
                self.example = self.example or key


def read_window(
    fetch: Fetch,
    *,
    offset: int,
    limit: int | None,
    page_size: int,
    margin: int = 0,
    max_records: int | None = None,
    stats: WindowStats | None = None,
    **ctx: Any,
) -> Iterator[Page]:
    """New records of ``[offset - margin, offset + limit)``, page by page, in the source's order.

    ``limit=None`` reads to the end, but at most ``max_records`` past ``offset``. ``ctx``
    (tenant, resource) goes into errors.
    """
    if offset < 0 or (limit is not None and limit < 0) or page_size < 1 or margin < 0:
        raise ValueError(f"bad window: offset={offset}, limit={limit}, margin={margin}")
    stats = stats if stats is not None else WindowStats()
    start = max(0, offset - margin)
    end = None if limit is None else offset + limit
    position = start  # where the next unread record is now
    recent: deque[str] = deque(maxlen=margin + 1)
    shifted = 0  # records seen moving right, which a source ignoring `offset` seems to do

    previous: tuple[int, Any, int] | None = None  # the last page's offset, first id and size
    widest = 0  # the most items a page held: over one, the server does not cap pages at one

    def get(at: int, ask: int) -> tuple[Page, int]:
        nonlocal previous, widest
        items, total = fetch(at, ask)
        widest = max(widest, len(items))
        first = items[0].get("id") if items else None
        if previous and items and at != previous[0] and first == previous[1] and previous[2] > 1:
            raise InconsistentPagesError(
                f"the pages at offsets {previous[0]} and {at} start with the same record: "
                "the source may ignore `offset`",
                offset=at,
                **ctx,
            )
        previous = (at, first, len(items))
        return items, total

    while end is None or position < end:
        if max_records is not None and end is None and position - offset >= max_records:
            raise InconsistentPagesError(
                f"read {position - offset:,} records past the start of an open-ended chunk "
                f"(more than the {max_records:,} it may take): the source may ignore `offset`, "
                "or grew faster than a sync can read",
                offset=position,
                **ctx,
            )
        ask = page_size if end is None else min(page_size, end - position)
        if not recent:
            items, total = get(position, ask)
            fresh = items
        else:
            here = position
            position -= 1  # at the anchor: the last record read
            items, total = get(position, ask + 1)
            at, expected = _latest(items, recent), 0
            if at is None and margin:
                # Deletions move the anchor left, insertions right: look both ways.
                expected = min(margin, position)
                position -= expected
                items, total = get(position, expected + 1 + margin + ask)
                at = _latest(items, recent)
            if at is None:
                if not items:
                    break
                if len(recent) > margin:
                    raise InconsistentPagesError(
                        f"records moved by more than JOBSVIEW_DRIFT_MARGIN={margin} between two "
                        "pages; the chunk's retry reads its window again",
                        offset=here,
                        **ctx,
                    )
                at = -1  # all this window read is gone, and the margin reaches back past it
            if at != expected:
                stats.moves += 1
            shifted += max(at - expected, 0)
            position += at + 1
            fresh = items[at + 1 :]
            if not fresh and items and position < total:
                if len(items) > 1:
                    # The page ends at the anchor, which moved (it is not first): records came
                    # in ahead, or a page cap cut a look-up short. Read on from its new place.
                    if shifted > margin:
                        raise InconsistentPagesError(
                            "a page repeats records already read and brings nothing new, though "
                            f"the source counts {total:,}: it may ignore `offset`",
                            offset=here,
                            **ctx,
                        )
                    continue
                if widest == 1:
                    # Only the anchor came back, from a server that never sent two records a
                    # page: it may cap pages at one, so ask past the anchor.
                    items, total = get(position, ask)
                    fresh = items
            # Otherwise only the anchor came back: nothing follows it, whatever `total` says. A
            # source may over-count, and reading the anchor again would loop forever.
        if not fresh:
            break
        fresh = fresh[:ask]  # a server that ignores `limit` must not spill into the next chunk
        stats.check(fresh)
        recent.extend(str(item["id"]) for item in fresh)
        stats.lead += max(0, min(offset, position + len(fresh)) - position)
        position += len(fresh)
        yield fresh
    if stats.duplicates:
        raise InconsistentPagesError(
            f"{stats.duplicates} duplicate record id{'s' if stats.duplicates != 1 else ''} "
            f"in the chunk's window (e.g. {stats.example!r}): the source repeated records, "
            'so others may be missing, or its ids collide as text (1 and "1")',
            offset=offset,
            **ctx,
        )


def _latest(items: Page, recent: deque[str]) -> int | None:
    """The index in ``items`` of the most recently read id that is still there.

    The first place an id appears: a copy of the anchor right after it is a repeat to report.
    """
    places: dict[str, int] = {}
    for n, item in enumerate(items):
        places.setdefault(str(item.get("id")), n)
    for key in reversed(recent):
        if key in places:
            return places[key]
    return None
