"""The list's forms under their headings; a chunk's whole error readable without JavaScript."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from ledger import JobStatus
from tests.support import SyncEnv
from tests.views.web.conftest import finished_job

LONG = "malformed page for deals at offset 400: the body is not JSON " + "x" * 200 + " END"


def test_each_form_of_the_list_sits_under_its_heading(client: TestClient) -> None:
    page = client.get("/").text
    sections = re.findall(r"<section class=\"(\w+) card\".*?</section>", page, re.S)
    assert sections == ["start", "filter"]
    start = page.split('<section class="start card"')[1].split("</section>")[0]
    found = page.split('<section class="filter card"')[1].split("</section>")[0]
    assert '<h2 id="start-heading">Start a job</h2>' in start and 'action="/jobs"' in start
    assert '<h2 id="filter-heading">Filter the list</h2>' in found and 'method="get"' in found
    assert "clear</a>" not in found
    assert "clear</a>" in client.get("/?status=failed").text


def test_a_chunk_error_in_the_timeline_expands_to_the_whole_of_it(
    sync_env: SyncEnv, client: TestClient
) -> None:
    job = finished_job(sync_env.ledger, JobStatus.INCOMPLETE, error=LONG)
    page = client.get(f"/jobs/{job.id}").text
    timeline = page.split("<h2>Timeline</h2>")[1]
    details = re.search(
        r"<details class=\"error\"><summary[^>]*>(.*?)</summary><pre>(.*?)</pre>", timeline, re.S
    )
    assert details, timeline[:2000]
    summary, whole = details.groups()
    assert summary.endswith("…") and len(summary) <= 100 and "END" not in summary
    assert whole == LONG  # all of it, once opened; no script needed
    assert "<script>" not in page and " onclick=" not in page
