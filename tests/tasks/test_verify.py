"""What a job stored, and drift, against in-memory seams and the real destination."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest

from connectors.destination import get_destination
from core import PlanTooLargeError
from ledger import Drift
from tasks.plan_job import check_plan_size
from tasks.verify import drift, stored_records
from tests.factories import make_items, make_job


class Counts:
    """A source that only counts: ``{resource: total}``."""

    def __init__(self, totals: dict[str, int]) -> None:
        self.totals = totals

    def count(self, tenant: str, resource: str, updated_since: datetime | None = None) -> int:
        return self.totals[resource]

    def iter_pages(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("drift only counts")


class Rows:
    """A destination in memory: ``(resource, record_id) -> job_id``."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], str] = {}

    def write_chunk(self, tenant: str, resource: str, job_id: str, items: Any) -> int:
        keys = {(resource, str(item["id"])) for item in items}
        self.rows.update(dict.fromkeys(keys, job_id))
        return len(keys)

    def count(self, tenant: str, resource: str | None = None, job_ids: Sequence[str] = ()) -> int:
        return sum(
            1
            for (r, _), job in self.rows.items()
            if (resource is None or r == resource) and (not job_ids or job in job_ids)
        )


def test_a_record_written_twice_counts_once() -> None:
    rows, job = Rows(), make_job()
    rows.write_chunk("acme", "contacts", job.id, make_items(100))
    rows.write_chunk("acme", "contacts", job.id, make_items(100, start=50))  # overlap
    rows.write_chunk("acme", "contacts", job.id, [{"id": "7"}])  # equal to 7 as text
    assert stored_records(rows, job) == 150


def test_a_resume_counts_only_what_it_added_to_its_chain() -> None:
    rows, parent = Rows(), make_job("incomplete", records_synced=300)
    rows.write_chunk("acme", "contacts", parent.id, make_items(300))
    resume = make_job(parent_id=parent.id)
    rows.write_chunk("acme", "contacts", resume.id, make_items(250, start=200))  # 100 again
    assert stored_records(rows, resume, [parent]) == 150
    assert parent.records_synced + stored_records(rows, resume, [parent]) == rows.count("acme")


def test_drift_compares_a_full_syncs_chain_with_the_source_at_the_end() -> None:
    rows, parent = Rows(), make_job("incomplete")
    job = make_job(parent_id=parent.id)
    rows.write_chunk("acme", "contacts", parent.id, make_items(60))
    rows.write_chunk("acme", "contacts", job.id, make_items(41, start=60))
    rows.write_chunk("acme", "deals", job.id, make_items(10))
    found = drift(Counts({"contacts": 100, "deals": 10}), rows, job, [parent])
    assert found == {"contacts": Drift(stored=101, source=100)}
    assert found["contacts"].difference == 1


def test_a_partial_sync_has_no_drift_to_measure() -> None:
    job = make_job(sync_type="partial")
    assert drift(Counts({"contacts": 5, "deals": 5}), Rows(), job, []) == {}


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
