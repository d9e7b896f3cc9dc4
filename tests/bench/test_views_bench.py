"""The read-side bench runs end to end, on a tiny ledger (its numbers mean nothing here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.views_bench import measure_cli, measure_web
from bench.views_seed import seed
from ledger import JobStatus, get_ledger


@pytest.fixture(autouse=True)
def _prefect() -> None:
    """No Prefect server: the bench reads only."""


def test_the_bench_seeds_and_measures(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    seeded = seed(url, jobs_count=120, chunks=3_000, big=600)
    ledger = get_ledger(url)
    big = ledger.get_job(seeded.big_job, with_chunks=False)
    assert big.status is JobStatus.RUNNING and big.total_chunks == 600
    assert ledger.get_job(seeded.typical_job, with_chunks=False).status is JobStatus.COMPLETED
    statuses = ledger.status_counts()
    assert statuses[JobStatus.COMPLETED] > statuses[JobStatus.FAILED] > 0
    assert any(j.parent_id for j in ledger.list_jobs(limit=200))
    assert sum(statuses.values()) == seeded.jobs == 120

    found = measure_web(seeded, "sqlite", requests=2) + measure_cli(seeded, "sqlite", tmp_path, 1)
    assert len(found) == 15
    for result in found:
        assert set(result) == {"measure", "backend", "value", "unit", "target", "met"}
        assert result["value"] > 0 and result["met"] == (result["value"] <= result["target"])
