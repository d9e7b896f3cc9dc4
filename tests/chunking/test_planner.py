"""The planner's properties, checked by hypothesis."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chunking import CHUNK_SIZES, SyncSize, plan_chunks

resource_names = st.text(alphabet="abcdefghij", min_size=1, max_size=6)
totals = st.lists(
    st.tuples(resource_names, st.integers(0, 50_000)), max_size=6, unique_by=lambda t: t[0]
)
sizes = st.integers(1, 12_000)


def test_sync_sizes_match_the_design() -> None:
    assert {s.value: s.chunk_size for s in SyncSize} == {
        "small": 100,
        "medium": 500,
        "large": 2_000,
        "xlarge": 10_000,
    }
    assert set(CHUNK_SIZES) == set(SyncSize)


@given(totals, sizes)
def test_windows_cover_every_record_exactly_once(
    resources: list[tuple[str, int]], size: int
) -> None:
    windows = plan_chunks(resources, size)
    for resource, total in resources:
        own = [w for w in windows if w.resource == resource]
        covered: list[int] = []
        for w in own:
            end = total if w.limit is None else w.offset + w.limit
            covered.extend(range(w.offset, end))
        assert covered == list(range(total))


@given(totals, sizes)
def test_window_count_is_ceil_total_over_size(resources: list[tuple[str, int]], size: int) -> None:
    windows = plan_chunks(resources, size)
    for resource, total in resources:
        assert sum(w.resource == resource for w in windows) == math.ceil(total / size)
    assert len(windows) == sum(math.ceil(t / size) for _, t in resources)


@given(totals, sizes)
def test_numbered_across_the_job_last_window_open_ended(
    resources: list[tuple[str, int]], size: int
) -> None:
    windows = plan_chunks(resources, size)
    assert [w.index for w in windows] == list(range(1, len(windows) + 1))
    for resource, total in resources:
        own = [w for w in windows if w.resource == resource]
        if total == 0:
            assert own == []
            continue
        assert own[-1].open_ended
        assert all(w.limit == size for w in own[:-1])
        # resources keep the order they were given in
    order = [r for r, t in resources if t]
    seen = list(dict.fromkeys(w.resource for w in windows))
    assert seen == order


def test_empty_job_has_no_windows() -> None:
    assert plan_chunks([], 100) == []
    assert plan_chunks([("contacts", 0)], 100) == []


def test_one_and_many_chunks() -> None:
    one = plan_chunks([("contacts", 100)], 100)
    assert [(w.offset, w.limit) for w in one] == [(0, None)]
    many = plan_chunks([("contacts", 201), ("deals", 5)], 100)
    assert [(w.index, w.resource, w.offset, w.limit) for w in many] == [
        (1, "contacts", 0, 100),
        (2, "contacts", 100, 100),
        (3, "contacts", 200, None),
        (4, "deals", 0, None),
    ]


@pytest.mark.parametrize(("totals", "size"), [([("a", -1)], 10), ([("a", 1)], 0)])
def test_rejects_nonsense(totals: list[tuple[str, int]], size: int) -> None:
    with pytest.raises(ValueError):
        plan_chunks(totals, size)
