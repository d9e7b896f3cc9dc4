"""Big jobs on the web: the API gives a page of chunks at a time, the list warns about the
previous job from one query."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from ledger.models import JobStatus
from tests.support import SyncEnv
from tests.views.web.conftest import finished_job


def test_a_job_answers_with_a_page_of_its_chunks(sync_env: SyncEnv, client: TestClient) -> None:
    job = finished_job(sync_env.ledger, JobStatus.INCOMPLETE, completed=240, failed=12)

    first = client.get(f"/api/jobs/{job.id}").json()
    assert [c["index"] for c in first["chunks"]] == list(range(1, 201))
    assert first["chunk_page"] == {"offset": 0, "limit": 200, "total": 252, "next_offset": 200}
    assert first["counts"]["completed"] == 240 and first["counts"]["failed"] == 12
    assert first["records_synced"] == 24_000

    rest = client.get(f"/api/jobs/{job.id}", params={"chunk_offset": 200}).json()
    assert [c["index"] for c in rest["chunks"]] == list(range(201, 253))
    assert rest["chunk_page"]["next_offset"] is None

    failed = client.get(f"/api/jobs/{job.id}", params={"chunk_status": "failed"}).json()
    assert [c["index"] for c in failed["chunks"]] == list(range(241, 253))
    assert failed["chunk_page"] == {"offset": 0, "limit": 200, "total": 12, "next_offset": None}

    every = client.get(f"/api/jobs/{job.id}", params={"chunk_limit": 10_000}).json()
    assert len(every["chunks"]) == 252 and every["chunk_page"]["next_offset"] is None
    small = client.get(f"/api/jobs/{job.id[:8]}", params={"chunk_limit": 5}).json()
    assert small["chunk_page"]["next_offset"] == 5 and len(small["chunks"]) == 5

    for params in (
        {"chunk_limit": 0},
        {"chunk_limit": 100_001},
        {"chunk_offset": -1},
        {"chunk_status": "exploded"},
    ):
        assert client.get(f"/api/jobs/{job.id}", params=params).status_code == 422, params


def test_the_list_warns_when_the_previous_job_did_not_finish_cleanly(
    sync_env: SyncEnv, client: TestClient
) -> None:
    ledger = sync_env.ledger
    broken = finished_job(ledger, JobStatus.FAILED, completed=0, failed=1)
    after_broken = finished_job(ledger, JobStatus.COMPLETED, failed=0)
    after_clean = finished_job(ledger, JobStatus.COMPLETED, failed=0)
    other_type = finished_job(ledger, JobStatus.COMPLETED, failed=0, sync_type="partial")

    rows = {
        line.split('data-job="')[1][:36]: line
        for line in client.get("/fragments/jobs").text.split("<tr")
        if 'data-job="' in line
    }
    assert "⚠ previous failed" in rows[after_broken.id] and broken.id[:8] in rows[after_broken.id]
    for clean in (broken, after_clean, other_type):
        assert "⚠ previous" not in rows[clean.id]


def test_the_list_shows_lineage_errors_and_never_flags_a_resume_about_its_parent(
    sync_env: SyncEnv, client: TestClient
) -> None:
    from tests.views.test_jobs_list import LONG_ERROR, seed

    cancelled, resume, failed = seed(sync_env.ledger)
    after_resume = finished_job(sync_env.ledger, JobStatus.COMPLETED, failed=0)

    rows = {
        line.split('data-job="')[1][:36]: line
        for line in client.get("/fragments/jobs").text.split("<tr")
        if 'data-job="' in line
    }
    assert "⚠ previous" not in rows[resume.id]  # it resumes that very job
    assert f'resume of <a href="/jobs/{cancelled.id}"><code>{cancelled.id[:8]}' in rows[resume.id]
    assert "resume of" not in rows[after_resume.id] and "⚠ previous" not in rows[after_resume.id]
    assert "16 of 37 chunks completed, 21 pending" in rows[cancelled.id]
    error = rows[failed.id].split('class="error"')[1]
    assert "HTTP 401 from the source for contacts" in error
    assert "the tenant&#39;s name</small>" not in error  # shortened in the cell
    assert 'title="HTTP 401' in error and "and the tenant&#39;s name" in error  # whole, on hover
    assert LONG_ERROR.splitlines()[0][:40] in error
    assert all(re.search(r"<td>\d+(\.\d)?s|<td>\d+m\d\ds", rows[j.id]) for j in (resume, failed))
