"""What a job stored, and drift, against in-memory seams, the ledger and the destination."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from chunking import plan_chunks
from connectors.destination import get_destination
from core import PlanTooLargeError
from ledger import Drift, get_ledger
from tasks.plan_job import check_plan_size
from tasks.verify import chunk_edges, distinct_records, drift
from tests.factories import make_items, make_job, queued_job


class Counts:
    """A source that only counts: ``{resource: total}``."""

    def __init__(self, totals: dict[str, int]) -> None:
        self.totals = totals

    def count(self, tenant: str, resource: str, updated_since: datetime | None = None) -> int:
        return self.totals[resource]

    def iter_pages(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("drift only counts")


def test_drift_compares_a_full_syncs_chain_with_the_source_at_the_end() -> None:
    job = make_job()
    stored = {"contacts": 101, "deals": 10}  # what the chain's completed chunks stored
    found = drift(Counts({"contacts": 100, "deals": 10}), job, stored)
    assert found == {"contacts": Drift(stored=101, source=100)}
    assert found["contacts"].difference == 1


def test_a_resource_nothing_was_stored_for_drifts_by_the_source_total() -> None:
    found = drift(Counts({"contacts": 0, "deals": 7}), make_job(), {"contacts": 0})
    assert found == {"deals": Drift(stored=0, source=7)}


def test_a_partial_sync_has_no_drift_to_measure() -> None:
    job = make_job(sync_type="partial")
    assert drift(Counts({"contacts": 5, "deals": 5}), job, {}) == {}


def read(ids: range | list[int], lead: int = 0, edge: int = 30) -> tuple[int, dict[str, Any]]:
    """A completed chunk that read ``ids`` (the first ``lead`` of them from its margin)."""
    names = [str(i) for i in ids]
    return len(ids) - lead, chunk_edges(names, len(set(names)), edge)


def test_records_read_twice_through_a_drift_margin_count_once() -> None:
    chunks = [read(range(0, 100)), read(range(90, 200), lead=10), read(range(190, 250), lead=10)]
    assert distinct_records(chunks) == 250


def test_a_margin_over_a_chunk_that_did_not_complete_counts_as_new() -> None:
    """Chunk 2 failed: the records chunk 3 read from its margin were stored by no one else."""
    assert distinct_records([read(range(0, 100)), read(range(190, 300), lead=10)]) == 210
    # its resume, chunk 2, then adds only what neither neighbour stored
    assert (
        distinct_records(
            [read(range(0, 100)), read(range(90, 200), lead=10), read(range(190, 300), lead=10)]
        )
        == 300
    )


def test_a_record_pushed_across_a_boundary_mid_run_counts_once() -> None:
    """Records inserted ahead after chunk 1 read: its last records are read again by chunk 2,
    past its margin (so they are counted by both chunks' own counts)."""
    chunks = [read(range(0, 100)), read([*range(85, 100), *range(100, 195)], lead=10)]
    assert distinct_records(chunks) == 195


def test_chunks_completed_before_edges_were_kept_count_as_they_counted() -> None:
    assert distinct_records([(100, None), read(range(90, 200), lead=10)]) == 210


def test_what_a_chain_stored_is_its_completed_chunks_whoever_wrote_the_rows_last(
    db_url: str,
) -> None:
    """Counts come from the chunks, so another job upserting the same rows at the same time
    (a partial beside a full) cannot change them."""
    ledger = get_ledger(db_url)
    parent = queued_job(ledger, "acme")
    ledger.add_chunks(parent.id, plan_chunks([("contacts", 300), ("deals", 50)], 100), {})
    ledger.mark_running(parent.id, ran_as_full=False)
    for index, ids, lead in ((1, range(0, 100), 0), (2, range(90, 200), 10), (4, range(50), 0)):
        ledger.chunk_started(parent.id, index, "h:1")
        ledger.chunk_completed(parent.id, index, *read(ids, lead))
    ledger.chunk_started(parent.id, 3, "h:1")  # never completes
    edges = ledger.completed_edges([parent.id])
    assert {r: distinct_records(e) for r, e in edges.items()} == {"contacts": 200, "deals": 50}
    ledger.forget_edges([parent.id])
    assert all(e is None for _, e in ledger.completed_edges([parent.id])["contacts"])


def test_the_destination_counts_records_by_the_jobs_that_wrote_them_last(db_url: str) -> None:
    destination = get_destination(db_url)
    destination.write_chunk("acme", "contacts", "job-1", make_items(30))
    destination.write_chunk("acme", "contacts", "job-2", make_items(20, start=25))
    assert destination.count("acme", "contacts", job_ids=["job-1"]) == 25
    assert destination.count("acme", job_ids=["job-1", "job-2"]) == 45
    assert destination.count("acme") == 45


def test_a_plan_over_the_chunk_cap_is_refused_naming_the_resource_and_total() -> None:
    check_plan_size([("contacts", 500_000), ("deals", 500_000)], 100, 10_000)
    with pytest.raises(PlanTooLargeError, match=r"deals counts 500,001 records .* over") as info:
        check_plan_size([("contacts", 500_000), ("deals", 500_001)], 100, 10_000)
    assert "JOBSVIEW_MAX_CHUNKS_PER_JOB=10,000" in str(info.value)
