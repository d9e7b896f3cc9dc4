"""Drift-safe windows: every record that lives through the run is read, whatever moves."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chunking import plan_chunks
from connectors.window import Page, WindowStats, read_window
from core.errors import InconsistentPagesError


class Shifting:
    """A source in memory whose records can be inserted and deleted between fetches.

    ``cap``: at most this many items a page. ``over``: the total says ``over`` times the truth.
    """

    def __init__(self, count: int, cap: int | None = None, over: int = 1) -> None:
        self.ids: list[Any] = list(range(count))
        self.next_id = count
        self.cap, self.over = cap, over
        self.calls: list[tuple[int, int]] = []

    def fetch(self, offset: int, limit: int) -> tuple[Page, int]:
        self.calls.append((offset, limit))
        served = self.ids[offset : offset + min(limit, self.cap or limit)]
        return [{"id": i, "v": 0} for i in served], len(self.ids) * self.over

    def insert(self, position: int) -> None:
        self.ids.insert(position, self.next_id)
        self.next_id += 1

    def delete(self, position: int) -> None:
        del self.ids[position]


def ids_of(pages: Any) -> list[Any]:
    return [item["id"] for page in pages for item in page]


def test_a_still_source_is_read_once_with_one_anchor_per_page() -> None:
    source = Shifting(250)
    read = ids_of(read_window(source.fetch, offset=0, limit=None, page_size=100))
    assert read == list(range(250))
    # each page after the first starts at the last record read
    assert source.calls == [(0, 100), (99, 101), (199, 101), (249, 101)]


def test_a_window_starts_margin_records_early() -> None:
    source = Shifting(1000)
    read = ids_of(read_window(source.fetch, offset=500, limit=100, page_size=100, margin=30))
    assert read == list(range(470, 600))


def test_deletions_between_pages_do_not_skip_records() -> None:
    source = Shifting(300)
    pages = read_window(source.fetch, offset=0, limit=None, page_size=100, margin=5)
    read = ids_of([next(pages)])
    source.delete(10)
    source.delete(20)  # two records before the anchor: the rest moved left by two
    read += ids_of(pages)
    assert set(range(300)) - {10, 21} <= set(read)


def test_a_deleted_anchor_falls_back_to_the_record_before_it() -> None:
    source = Shifting(300)
    pages = read_window(source.fetch, offset=0, limit=None, page_size=100, margin=5)
    read = ids_of([next(pages)])
    source.delete(99)  # the anchor itself
    source.delete(3)
    read += ids_of(pages)
    assert set(range(300)) - {3, 99} <= set(read)


def test_insertions_between_pages_are_skipped_past() -> None:
    source = Shifting(300)
    stats = WindowStats()
    pages = read_window(source.fetch, offset=0, limit=None, page_size=100, stats=stats)
    read = ids_of([next(pages)])
    source.insert(0)
    source.insert(50)
    read += ids_of(pages)
    assert read == list(range(300)) and stats.moves == 1


def test_drift_past_the_margin_fails_instead_of_losing_records() -> None:
    source = Shifting(300)
    pages = read_window(
        source.fetch, offset=0, limit=None, page_size=100, margin=2, tenant="t", resource="r"
    )
    next(pages)
    for _ in range(10):
        source.delete(90)  # the anchor and every record read just before it
    with pytest.raises(InconsistentPagesError, match="DRIFT_MARGIN=2") as info:
        list(pages)
    assert info.value.resource == "r" and info.value.offset == 100


def test_a_source_that_ignores_offset_fails_instead_of_looping() -> None:
    def same_page(offset: int, limit: int) -> tuple[Page, int]:
        return [{"id": i} for i in range(min(limit, 100))], 250

    with pytest.raises(InconsistentPagesError, match="ignore `offset`"):
        list(read_window(same_page, offset=0, limit=None, page_size=100))


def test_an_open_ended_window_is_bounded() -> None:
    def endless(offset: int, limit: int) -> tuple[Page, int]:
        return [{"id": i} for i in range(offset, offset + limit)], offset + limit

    with pytest.raises(InconsistentPagesError, match="more than the 1,000 it may take"):
        list(read_window(endless, offset=0, limit=None, page_size=100, max_records=1000))


def test_a_repeated_record_fails_the_window_with_a_count_and_an_example() -> None:
    def repeats(offset: int, limit: int) -> tuple[Page, int]:
        items = [{"id": i} for i in range(offset, min(offset + limit, 250))]
        if offset == 99:
            items[50] = items[49]  # record 148 twice, 149 never
        return items, 250

    with pytest.raises(InconsistentPagesError, match=r"1 duplicate record id .*'148'"):
        list(read_window(repeats, offset=0, limit=250, page_size=100))


def test_ids_equal_as_text_are_duplicates() -> None:
    def mixed(offset: int, limit: int) -> tuple[Page, int]:
        ids: list[Any] = [*range(50), *(str(i) for i in range(50))]
        return [{"id": i} for i in ids[offset : offset + limit]], 100

    with pytest.raises(InconsistentPagesError, match="50 duplicate record ids"):
        list(read_window(mixed, offset=0, limit=None, page_size=30))


def test_a_record_updated_and_moved_is_not_a_duplicate() -> None:
    rows = [{"id": i, "v": 0} for i in range(10)]

    def moving(offset: int, limit: int) -> tuple[Page, int]:
        return [dict(r) for r in rows[offset : offset + limit]], len(rows)

    pages = read_window(moving, offset=0, limit=None, page_size=4, margin=1)
    first = next(pages)
    rows.append({"id": 1, "v": 1})  # updated: it moves to the end of an updated_at order
    del rows[1]
    rest = ids_of(pages)
    assert ids_of([first]) + rest == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1]


# -- a total that over-counts (issue case 8) ---------------------------------------------------


def test_a_window_past_the_end_of_an_over_counting_source_ends_after_two_requests() -> None:
    """250 records, pages saying 2,500: the chunk at 300 read its margin, then looped on 249."""
    source = Shifting(250, over=10)
    stats = WindowStats()
    pages = read_window(source.fetch, offset=300, limit=100, page_size=100, margin=100, stats=stats)
    assert ids_of(pages) == list(range(200, 250)) and stats.lead == 50  # none of its own
    assert source.calls == [(200, 100), (249, 101)]


def read_all(source: Shifting, **window: Any) -> tuple[list[Any], int]:
    """The ids a window reads from ``source``, and the requests it took."""
    source.calls.clear()
    read = ids_of(read_window(source.fetch, **window))
    return read, len(source.calls)


# (offset, limit, margin, at most this many requests without a page cap)
PAST_THE_END = [(300, 100, 100, 2), (300, 100, 0, 1), (400, 100, 100, 1), (2400, None, 100, 1)]
STRADDLING = [(200, 100, 0, 2), (200, 100, 100, 3), (150, 200, 30, 3), (249, 100, 0, 3)]
LAST_OPEN_ENDED = [(200, None, 0, 2), (200, None, 100, 3), (0, None, 0, 4)]


@pytest.mark.parametrize("cap", [None, 37, 1])
@pytest.mark.parametrize(
    ("offset", "limit", "margin", "most"), PAST_THE_END + STRADDLING + LAST_OPEN_ENDED
)
def test_an_over_counting_total_reads_just_the_real_records(
    cap: int | None, offset: int, limit: int | None, margin: int, most: int
) -> None:
    window = {"offset": offset, "limit": limit, "page_size": 100, "margin": margin}
    read, requests = read_all(Shifting(250, cap=cap, over=10), **window)
    end = 250 if limit is None else min(250, offset + limit)
    assert read == list(range(offset - margin, end))
    if cap is None:
        assert requests <= most
    # No more than an honest total costs, but for one request past the anchor when no page held
    # two records: a server capping pages at one looks like the end.
    _, honest = read_all(Shifting(250, cap=cap), **window)
    assert requests <= honest + (cap == 1 or len(read) == 1)


def test_a_server_capping_pages_at_one_record_is_read_to_the_end() -> None:
    for over in (1, 10):
        read, requests = read_all(Shifting(5, cap=1, over=over), offset=0, limit=None, page_size=9)
        assert read == [0, 1, 2, 3, 4]
        assert requests == 2 * 5 + (over > 1)  # two a record: the anchor's page, one past it


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(0, 300),
    over=st.integers(2, 20),
    cap=st.one_of(st.none(), st.integers(1, 60)),
    chunk=st.integers(1, 120),
    page=st.integers(1, 60),
    margin=st.integers(0, 12),
)
def test_every_chunk_planned_on_an_over_counting_total_ends(
    count: int, over: int, cap: int | None, chunk: int, page: int, margin: int
) -> None:
    """The planner believes the total, so most chunks lie past the end: each ends at once."""
    for w in plan_chunks([("r", count * over)], chunk):
        window = {"offset": w.offset, "limit": w.limit, "page_size": page, "margin": margin}
        read, requests = read_all(Shifting(count, cap=cap, over=over), **window)
        end = None if w.limit is None else w.offset + w.limit
        assert read == list(range(count))[max(0, w.offset - margin) : end]
        _, honest = read_all(Shifting(count, cap=cap), **window)
        assert requests <= honest + (cap == 1 or len(read) == 1)


@pytest.mark.parametrize("over", [1, 10])
def test_a_look_up_that_a_page_cap_ends_at_the_anchor_reads_on(over: int) -> None:
    """Nothing new after the anchor is no end when more than the anchor came back."""
    source = Shifting(50, cap=3, over=over)
    pages = read_window(source.fetch, offset=0, limit=None, page_size=10, margin=5)
    read = ids_of([next(pages), next(pages), next(pages)])  # 0..6
    for _ in range(3):
        source.delete(0)  # the anchor (6) moves left by three: last in a look-up capped at 3
    read += ids_of(pages)
    assert read == list(range(50))


# -- records moving during a run ----------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    count=st.integers(0, 400),
    chunk=st.integers(1, 120),
    page=st.integers(1, 60),
    margin=st.integers(0, 12),
    data=st.data(),
)
def test_every_record_that_lives_through_the_run_is_read(
    count: int, chunk: int, page: int, margin: int, data: st.DataObject
) -> None:
    """Chunks read in any interleaving while up to ``margin`` records come and go.

    The total may over-count, and pages may be capped (at more than twice the margin, so a
    look-up a margin back still reaches a moved anchor). A window that takes the drift for a lie
    fails, and is read again, as a chunk's retry would.
    """
    over = data.draw(st.sampled_from([1, 10]), label="over")
    cap = data.draw(st.one_of(st.none(), st.integers(2 * margin + 2, 61)), label="cap")
    source = Shifting(count, cap=cap, over=over)
    plan = plan_chunks([("r", count)], chunk)

    def reader(n: int) -> Any:
        w = plan[n]
        return read_window(
            source.fetch, offset=w.offset, limit=w.limit, page_size=page, margin=margin
        )

    readers = {n: reader(n) for n in range(len(plan))}
    changes, retries, deleted, read = 0, 0, set(), set()
    while readers:
        n = data.draw(st.sampled_from(sorted(readers)))
        if changes < margin and data.draw(st.booleans()):
            changes += 1
            if source.ids and data.draw(st.booleans()):
                at = data.draw(st.integers(0, len(source.ids) - 1))
                deleted.add(source.ids[at])
                source.delete(at)
            else:
                source.insert(data.draw(st.integers(0, len(source.ids))))
        try:
            read.update(item["id"] for item in next(readers[n]))
        except StopIteration:
            del readers[n]
        except InconsistentPagesError:
            retries += 1
            assert retries <= 2 * margin  # each false alarm needs changes to explain it
            readers[n] = reader(n)
    assert set(range(count)) - deleted <= read
