"""The web Jobs View over HTTP: the JSON API, the pages and fragments, the token guard.

A FakeLauncher stands in for the background processes: these tests check what the web
claims in the ledger and what it asks to launch, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from chunking import SyncSize
from ledger.models import ChunkStatus, Drift, JobStatus
from tests.support import SyncEnv
from tests.views.conftest import Cli
from tests.views.web.conftest import (
    FakeLauncher,
    api_writes,
    csrf,
    finished_job,
    form_writes,
    web_client,
)

TOKEN = "web-s3cret-token-value"
HOSTILE = "<script>alert(1)</script>"


def start(client: TestClient, **body: Any) -> Any:
    return client.post("/api/jobs", json={"tenant": "acme", "sync_type": "full", **body})


# -- reading jobs -------------------------------------------------------------


def test_list_jobs_with_filters_and_limit_bounds(sync_env: SyncEnv, client: TestClient) -> None:
    ledger = sync_env.ledger
    done = finished_job(ledger, JobStatus.COMPLETED, completed=3, failed=0)
    broken = finished_job(ledger, JobStatus.INCOMPLETE, tenant="globex")
    queued = start(client, tenant="initech").json()

    everything = client.get("/api/jobs")
    assert everything.status_code == 200
    assert [j["id"] for j in everything.json()] == [queued["id"], broken.id, done.id]
    assert all("chunks" not in j for j in everything.json())

    by_tenant = client.get("/api/jobs", params={"tenant": "globex"}).json()
    assert [j["id"] for j in by_tenant] == [broken.id]
    by_status = client.get("/api/jobs", params={"status": "completed"}).json()
    assert [j["id"] for j in by_status] == [done.id]
    assert by_status[0]["counts"]["completed"] == 3 and by_status[0]["records_synced"] == 300
    assert client.get("/api/jobs", params={"status": "queued", "tenant": "acme"}).json() == []
    assert len(client.get("/api/jobs", params={"limit": 1}).json()) == 1
    assert len(client.get("/api/jobs", params={"limit": 500}).json()) == 3

    for params in (
        {"limit": 0},
        {"limit": 501},
        {"limit": -1},
        {"limit": "many"},
        {"offset": -1},
        {"status": "exploded"},
        {"tenant": "Acme"},
        {"tenant": "../etc/passwd"},
        {"tenant": HOSTILE},
    ):
        answer = client.get("/api/jobs", params=params)
        assert answer.status_code == 422, params


def test_get_one_job_by_id_and_prefix(sync_env: SyncEnv, client: TestClient) -> None:
    job = finished_job(sync_env.ledger, JobStatus.INCOMPLETE, completed=2, failed=1)

    full = client.get(f"/api/jobs/{job.id}")
    assert full.status_code == 200
    body = full.json()
    assert body["id"] == job.id and body["status"] == "incomplete"
    assert [c["status"] for c in body["chunks"]] == ["completed", "completed", "failed"]
    assert body["chunks"][2]["error"] == "boom"

    assert client.get(f"/api/jobs/{job.id[:8]}").json()["id"] == job.id
    assert client.get(f"/api/jobs/{job.id.upper()}").json()["id"] == job.id

    unknown = client.get("/api/jobs/deadbeef-0000-0000-0000-000000000000")
    assert unknown.status_code == 404 and "no job matches" in unknown.json()["detail"]
    assert client.get("/api/jobs/beef").status_code == 404
    assert client.get("/api/jobs/abc").status_code == 422  # too short to be a prefix
    assert client.get("/api/jobs/not-a-job-id!").status_code in (404, 422)


# -- starting jobs ------------------------------------------------------------


def test_post_starts_a_queued_job_and_launches_its_run(
    sync_env: SyncEnv, client: TestClient, launcher: FakeLauncher
) -> None:
    answer = start(client, sync_size="small")
    assert answer.status_code == 202
    job = answer.json()
    assert job["status"] == "queued" and job["tenant"] == "acme" and job["sync_type"] == "full"
    assert job["sync_size"] == "small" and job["chunk_size"] == 100
    assert sync_env.ledger.get_job(job["id"]).status is JobStatus.QUEUED

    assert len(launcher.launched) == 1
    args = launcher.launched[0]
    assert args[0] == "run"
    assert args[args.index("--tenant") + 1] == "acme"
    assert args[args.index("--type") + 1] == "full"
    assert args[args.index("--job-id") + 1] == job["id"]  # claimed, with its size: adopted


def test_a_second_start_for_the_same_tenant_and_type_is_refused(
    sync_env: SyncEnv, client: TestClient, launcher: FakeLauncher
) -> None:
    first = start(client).json()
    second = start(client)
    assert second.status_code == 409
    assert second.json()["blocking_job_id"] == first["id"]
    assert first["id"] in second.json()["detail"]
    assert len(launcher.launched) == 1

    # another type, or another tenant, is not blocked
    assert start(client, sync_type="partial").status_code == 202
    assert start(client, tenant="globex").status_code == 202
    assert len(sync_env.ledger.list_jobs()) == 3


def test_a_job_id_already_taken_is_a_conflict(
    sync_env: SyncEnv, client: TestClient, launcher: FakeLauncher, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = finished_job(sync_env.ledger, JobStatus.COMPLETED)
    monkeypatch.setattr("flows.claim.new_job_id", lambda: done.id)
    taken = start(client)
    assert taken.status_code == 409, taken.text
    assert "already taken" in taken.json()["detail"]
    assert sync_env.ledger.get_job(done.id).status is JobStatus.COMPLETED
    assert launcher.launched == []


@pytest.mark.parametrize(
    "body",
    [
        {"tenant": "Acme", "sync_type": "full"},
        {"tenant": "../etc/passwd", "sync_type": "full"},
        {"tenant": "acme; DROP TABLE jobs", "sync_type": "full"},
        {"tenant": HOSTILE, "sync_type": "full"},
        {"tenant": "acme\n", "sync_type": "full"},
        {"tenant": "", "sync_type": "full"},
        {"tenant": "a" * 64, "sync_type": "full"},
        {"tenant": "acmé", "sync_type": "full"},
        {"tenant": 7, "sync_type": "full"},
        {"sync_type": "full"},
        {"tenant": "acme", "sync_type": "everything"},
        {"tenant": "acme", "sync_type": "FULL"},
        {"tenant": "acme"},
        {"tenant": "acme", "sync_type": "full", "sync_size": "huge"},
        {"tenant": "acme", "sync_type": "full", "sync_size": 100},
        {"tenant": "acme", "sync_type": "full", "chunk_size": 1},
        {"tenant": "acme", "sync_type": "full", "job_id": "0000"},
    ],
)
def test_invalid_starts_answer_422_and_create_nothing(
    sync_env: SyncEnv, client: TestClient, launcher: FakeLauncher, body: dict[str, Any]
) -> None:
    answer = client.post("/api/jobs", json=body)
    assert answer.status_code == 422, answer.text
    assert sync_env.ledger.list_jobs() == []
    assert launcher.launched == []


def test_non_json_bodies_are_refused(sync_env: SyncEnv, client: TestClient) -> None:
    assert client.post("/api/jobs", content=b"tenant=acme").status_code == 415
    assert client.post("/api/jobs", json=["acme", "full"]).status_code == 422
    assert sync_env.ledger.list_jobs() == []


# -- cancel and resume --------------------------------------------------------


def test_cancel_a_queued_job_then_a_finished_one(sync_env: SyncEnv, client: TestClient) -> None:
    job = start(client).json()
    cancelled = client.post(f"/api/jobs/{job['id'][:8]}/cancel", json={})
    assert cancelled.status_code == 200
    assert cancelled.json()["id"] == job["id"] and cancelled.json()["cancel_requested"] is True
    assert sync_env.ledger.get_job(job["id"]).cancel_requested

    done = finished_job(sync_env.ledger, JobStatus.COMPLETED, tenant="globex", failed=0)
    refused = client.post(f"/api/jobs/{done.id}/cancel", json={})
    assert refused.status_code == 409 and "nothing to cancel" in refused.json()["detail"]
    assert not sync_env.ledger.get_job(done.id).cancel_requested

    assert client.post("/api/jobs/deadbeef/cancel", json={}).status_code == 404


def test_resume_is_refused_for_completed_and_running_jobs(
    sync_env: SyncEnv, client: TestClient, launcher: FakeLauncher
) -> None:
    done = finished_job(sync_env.ledger, JobStatus.COMPLETED, failed=0)
    running = finished_job(sync_env.ledger, JobStatus.RUNNING, tenant="globex", pending=3)
    for job in (done, running):
        answer = client.post(f"/api/jobs/{job.id}/resume", json={})
        assert answer.status_code == 409, answer.text
    assert (
        "nothing to resume" in client.post(f"/api/jobs/{done.id}/resume", json={}).json()["detail"]
    )
    assert len(sync_env.ledger.list_jobs()) == 2
    assert launcher.launched == []


def test_resume_an_incomplete_job(
    sync_env: SyncEnv, client: TestClient, launcher: FakeLauncher
) -> None:
    parent = finished_job(sync_env.ledger, JobStatus.INCOMPLETE, completed=2, failed=1)
    answer = client.post(f"/api/jobs/{parent.id[:8]}/resume", json={})
    assert answer.status_code == 202, answer.text
    child = answer.json()
    assert child["parent_id"] == parent.id and child["status"] == "queued"
    assert child["tenant"] == "acme" and child["chunk_size"] == parent.chunk_size
    assert launcher.launched == [["resume", parent.id, "--job-id", child["id"], "--json"]]
    assert sync_env.ledger.get_job(parent.id).resumed_by == (child["id"],)

    # the child is queued: a second resume, or a start of the same type, is refused
    assert client.post(f"/api/jobs/{parent.id}/resume", json={}).status_code == 409
    assert start(client).status_code == 409


# -- settings -----------------------------------------------------------------


def test_get_and_put_settings(sync_env: SyncEnv, client: TestClient) -> None:
    shown = client.get("/api/settings").json()
    assert shown["default_sync_size"] == "medium" and shown["tenants"] == {}
    assert shown["settings"]["JOBSVIEW_DATABASE_URL"]

    put = client.put("/api/settings/tenants/acme", json={"sync_size": "large"})
    assert put.status_code == 200 and put.json() == {"tenant": "acme", "sync_size": "large"}
    assert client.put("/api/settings/default", json={"sync_size": "small"}).json() == {
        "default_sync_size": "small"
    }
    shown = client.get("/api/settings").json()
    assert shown["tenants"] == {"acme": "large"} and shown["default_sync_size"] == "small"
    assert sync_env.ledger.tenant_sync_sizes() == {"acme": SyncSize.LARGE}

    # a start without a size uses the tenant's, then the default
    assert start(client).json()["chunk_size"] == 2_000
    assert start(client, tenant="globex").json()["sync_size"] == "small"

    # null goes back to the default
    assert client.put("/api/settings/tenants/acme", json={"sync_size": None}).json() == {
        "tenant": "acme",
        "sync_size": None,
    }
    assert client.put("/api/settings/default", json={"sync_size": None}).json() == {
        "default_sync_size": "medium"
    }
    shown = client.get("/api/settings").json()
    assert shown["tenants"] == {} and shown["default_sync_size"] == "medium"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/settings/tenants/acme", {"sync_size": "huge"}),
        ("/api/settings/tenants/acme", {"sync_size": 2000}),
        ("/api/settings/tenants/acme", {}),
        ("/api/settings/tenants/acme", {"sync_size": "large", "extra": 1}),
        ("/api/settings/tenants/Acme", {"sync_size": "large"}),
        ("/api/settings/tenants/a%3Cb%3E", {"sync_size": "large"}),
        ("/api/settings/default", {"sync_size": "LARGE"}),
    ],
)
def test_invalid_settings_answer_422(
    sync_env: SyncEnv, client: TestClient, path: str, body: dict[str, Any]
) -> None:
    assert client.put(path, json=body).status_code == 422
    assert sync_env.ledger.tenant_sync_sizes() == {}
    assert sync_env.ledger.default_sync_size() is None


# -- the token guard ----------------------------------------------------------


def test_with_a_token_every_write_needs_it(
    sync_env: SyncEnv, client: TestClient, launcher: FakeLauncher
) -> None:
    job = start(client).json()  # before the token is set
    done = finished_job(sync_env.ledger, JobStatus.INCOMPLETE, sync_type="partial")
    sync_env.set(api_token=TOKEN)
    with web_client(sync_env, launcher) as client:  # the web, restarted with the token
        before = [j.to_dict(include_chunks=False) for j in sync_env.ledger.list_jobs()]

        for method, path, body in api_writes(job["id"], done.id):
            for headers in (
                {},
                {"Authorization": "Bearer wrong"},
                {"Authorization": f"Basic {TOKEN}"},
                {"Authorization": f"Bearer {TOKEN}x"},
                {"Authorization": "Bearer "},
            ):
                answer = client.request(method, path, json=body, headers=headers)
                assert answer.status_code == 401, (method, path, headers)
                assert answer.headers["www-authenticate"] == "Bearer"
                assert TOKEN not in answer.text
        for path, form in form_writes(job["id"], done.id):
            for token in (None, "", "wrong"):
                data = {**form, "csrf_token": csrf(client)}
                data = data if token is None else {**data, "token": token}
                answer = client.post(path, data=data, follow_redirects=False)
                assert answer.status_code == 401, (path, token)
                assert TOKEN not in answer.text

        # nothing changed
        after = [j.to_dict(include_chunks=False) for j in sync_env.ledger.list_jobs()]
        assert after == before
        assert sync_env.ledger.tenant_sync_sizes() == {}
        assert launcher.launched == [launcher.launched[0]]

        # reads need no token, and never show it
        for path in ("/api/jobs", f"/api/jobs/{job['id']}", "/api/settings", "/", "/settings"):
            answer = client.get(path)
            assert answer.status_code == 200, path
            assert TOKEN not in answer.text
        assert client.get("/api/settings").json()["settings"]["JOBSVIEW_API_TOKEN"] == "********"
        assert 'data-token-required="true"' in client.get("/").text


def test_with_a_token_api_writes_work_with_the_bearer_header(
    sync_env: SyncEnv, launcher: FakeLauncher
) -> None:
    sync_env.set(api_token=TOKEN)
    with web_client(sync_env, launcher) as client:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        job = client.post("/api/jobs", json={"tenant": "acme", "sync_type": "full"}, headers=auth)
        assert job.status_code == 202
        assert TOKEN not in job.text
        assert TOKEN not in " ".join(" ".join(args) for args in launcher.launched)
        done = finished_job(sync_env.ledger, JobStatus.INCOMPLETE, sync_type="partial")
        answers = [
            client.request(method, path, json=body, headers=auth)
            for method, path, body in api_writes(job.json()["id"], done.id)[1:]
        ]
        assert [a.status_code for a in answers] == [200, 202, 200, 200]
        assert all(TOKEN not in a.text for a in answers)
        lower = {"authorization": f"bearer {TOKEN}"}  # the scheme is case-insensitive
        assert client.put(
            "/api/settings/default", json={"sync_size": None}, headers=lower
        ).is_success


def test_with_a_token_form_writes_work_with_the_field_or_the_header(sync_env: SyncEnv) -> None:
    sync_env.set(api_token=TOKEN)
    with web_client(sync_env) as client:
        started = client.post(
            "/jobs",
            data={
                "tenant": "acme",
                "sync_type": "full",
                "token": TOKEN,
                "csrf_token": csrf(client),
            },
            follow_redirects=False,
        )
        assert started.status_code == 303, started.text
        job_id = started.headers["location"].rsplit("/", 1)[1]
        assert sync_env.ledger.get_job(job_id).status is JobStatus.QUEUED

        cancelled = client.post(
            f"/jobs/{job_id}/cancel",
            data={"token": "ignored"},
            headers={"Authorization": f"Bearer {TOKEN}"},
            follow_redirects=False,
        )
        assert cancelled.status_code == 303 and cancelled.headers["location"] == f"/jobs/{job_id}"
        assert sync_env.ledger.get_job(job_id).cancel_requested

        done = finished_job(sync_env.ledger, JobStatus.INCOMPLETE, sync_type="partial")
        resumed = client.post(
            f"/jobs/{done.id}/resume",
            data={"token": TOKEN, "csrf_token": csrf(client)},
            follow_redirects=False,
        )
        assert resumed.status_code == 303
        assert sync_env.ledger.get_job(done.id).resumed_by

        saved = client.post(
            "/settings",
            data={
                "tenant": "acme",
                "sync_size": "large",
                "token": TOKEN,
                "csrf_token": csrf(client),
            },
            follow_redirects=False,
        )
        assert saved.status_code == 303 and saved.headers["location"] == "/settings?saved=acme"
        assert sync_env.ledger.tenant_sync_sizes() == {"acme": SyncSize.LARGE}
        assert TOKEN not in client.get("/settings?saved=acme").text


# -- pages and fragments ------------------------------------------------------


def test_pages_answer_with_their_content(sync_env: SyncEnv, client: TestClient) -> None:
    ledger = sync_env.ledger
    job = finished_job(ledger, JobStatus.INCOMPLETE, completed=240, failed=12)
    queued = start(client, tenant="globex").json()

    listing = client.get("/")
    assert listing.status_code == 200 and listing.headers["content-type"].startswith("text/html")
    assert job.id[:8] in listing.text and queued["id"][:8] in listing.text
    assert 'id="live"' in listing.text and 'data-active="true"' in listing.text
    assert '<form method="post" action="/jobs"' in listing.text
    # what happened, never "252/252 done" for a job with failed chunks
    assert "240 of 252 chunks completed, 12 failed" in listing.text
    assert "252/252" not in listing.text
    filtered = client.get("/", params={"tenant": "globex", "status": "queued", "since": "1h"})
    assert queued["id"][:8] in filtered.text and job.id[:8] not in filtered.text
    assert client.get("/", params={"tenant": "Bad Name"}).status_code == 422
    assert client.get("/", params={"since": "1y"}).status_code == 422

    detail = client.get(f"/jobs/{job.id}")
    assert detail.status_code == 200
    text = detail.text
    assert job.id in text and "incomplete" in text and "Resume job" in text
    assert "Cancel job" not in text
    assert "page 1 of 2" in text and "failed only (12)" in text
    assert "|- Chunk 1 [completed]" in text and "|- Chunk 201 [" not in text
    assert f'data-live="/fragments/jobs/{job.id}?page=1&failed=false"' in text

    page_two = client.get(f"/jobs/{job.id}", params={"page": 2}).text
    assert "page 2 of 2" in page_two and "|- Chunk 201 [completed]" in page_two
    assert "|- Chunk 1 [" not in page_two
    beyond = client.get(f"/jobs/{job.id}", params={"page": 99}).text
    assert "page 2 of 2" in beyond

    failed = client.get(f"/jobs/{job.id}", params={"failed": "true"}).text
    assert "show all chunks" in failed
    assert failed.count("[failed]") == 12 and "[completed]" not in failed.split("<pre")[1]

    running = client.get(f"/jobs/{queued['id'][:8]}").text
    assert "Cancel job" in running and 'data-active="true"' in running
    assert "No chunk has started yet." in running

    assert client.get("/settings").status_code == 200
    assert "Sync Size" in client.get("/settings").text

    fragment = client.get("/fragments/jobs")
    assert fragment.status_code == 200 and job.id[:8] in fragment.text
    assert "<html" not in fragment.text and "<table" in fragment.text
    job_fragment = client.get(f"/fragments/jobs/{job.id}", params={"failed": "true"})
    assert job_fragment.status_code == 200 and "<html" not in job_fragment.text
    assert '<section class="summary">' in job_fragment.text
    assert job_fragment.text.count("[failed]") == 12


def test_drift_is_shown_on_the_job_and_in_the_list(sync_env: SyncEnv, client: TestClient) -> None:
    ledger = sync_env.ledger
    job = finished_job(ledger, JobStatus.RUNNING, completed=3, failed=0)
    ledger.finish_job(job.id, JobStatus.COMPLETED, records=301, drift={"contacts": Drift(301, 300)})
    detail = client.get(f"/jobs/{job.id}").text
    assert "Drift: contacts 301 stored, 300 at the source (+1)" in detail
    assert "301 records" in detail
    listing = client.get("/").text
    assert "⚠ drift" in listing and 'title="drift: contacts 301 stored' in listing
    shown = client.get(f"/api/jobs/{job.id}").json()
    assert shown["drift"]["contacts"]["difference"] == 1 and shown["records_synced"] == 301


def test_unknown_job_page_is_a_404_page(sync_env: SyncEnv, client: TestClient) -> None:
    for path in ("/jobs/deadbeef", "/jobs/nope", "/fragments/jobs/deadbeef"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("text/html")
        assert "no job matches" in answer.text
    assert "<h1>Error 404</h1>" in client.get("/jobs/deadbeef").text


@pytest.mark.parametrize("ref", ["%00", "abcd%00", "%00abcd", "..%2F..", "%E2%80%AE" * 2])
def test_odd_job_refs_in_pages_match_no_job(
    sync_env: SyncEnv, client: TestClient, ref: str
) -> None:
    """A NUL byte once reached PostgreSQL, which refuses it with an error: a 500."""
    for method, path in (
        ("GET", f"/jobs/{ref}"),
        ("GET", f"/fragments/jobs/{ref}"),
        ("POST", f"/jobs/{ref}/cancel"),
        ("POST", f"/jobs/{ref}/resume"),
    ):
        data = {"csrf_token": csrf(client)} if method == "POST" else None
        answer = client.request(method, path, data=data, follow_redirects=False)
        assert answer.status_code == 404, (method, path, answer.text[:300])
    assert client.get(f"/api/jobs/{ref}").status_code in (404, 422)


def test_settings_page_lists_tenants_and_their_sizes(sync_env: SyncEnv, client: TestClient) -> None:
    finished_job(sync_env.ledger, JobStatus.COMPLETED, completed=21, failed=0)
    sync_env.ledger.set_tenant_sync_size("globex", SyncSize.XLARGE)
    page = client.get("/settings").text
    assert 'data-tenant="acme"' in page and 'data-tenant="globex"' in page
    assert '<option value="xlarge" selected>' in page
    assert 'aria-label="Sync Size for acme"' in page

    token = csrf(client)
    saved = client.post(
        "/settings", data={"tenant": "acme", "sync_size": "large", "csrf_token": token}
    )
    assert saved.status_code == 200 and "Saved acme." in saved.text  # after the redirect
    assert sync_env.ledger.tenant_sync_sizes()["acme"] is SyncSize.LARGE
    client.post("/settings", data={"tenant": "*", "sync_size": "small", "csrf_token": token})
    assert sync_env.ledger.default_sync_size() is SyncSize.SMALL
    client.post("/settings", data={"tenant": "acme", "sync_size": "", "csrf_token": token})
    assert "acme" not in sync_env.ledger.tenant_sync_sizes()

    for form in (
        {"tenant": "Acme", "sync_size": "large"},
        {"tenant": HOSTILE, "sync_size": "large"},
        {"tenant": "acme", "sync_size": "huge"},
        {"sync_size": "large"},
    ):
        refused = client.post("/settings", data={**form, "csrf_token": token})
        assert refused.status_code == 422, form
        assert "<script>alert" not in refused.text
    assert sync_env.ledger.tenant_sync_sizes() == {"globex": SyncSize.XLARGE}


def test_form_start_validates_like_the_api(
    sync_env: SyncEnv, client: TestClient, launcher: FakeLauncher
) -> None:
    for form in (
        {"tenant": HOSTILE, "sync_type": "full"},
        {"tenant": "acme", "sync_type": "sideways"},
        {"tenant": "acme", "sync_type": "full", "sync_size": "huge"},
        {"sync_type": "full"},
        {},
    ):
        refused = client.post("/jobs", data={**form, "csrf_token": csrf(client)})
        assert refused.status_code == 422, form
        assert "<script>alert" not in refused.text
    assert client.post("/jobs", json={"tenant": "acme", "sync_type": "full"}).status_code == 422
    assert sync_env.ledger.list_jobs() == [] and launcher.launched == []

    form = {"tenant": "acme", "sync_type": "partial", "csrf_token": csrf(client)}
    page = client.post("/jobs", data={**form, "sync_size": ""})
    assert page.status_code == 200 and "Sync Size medium (500 per chunk)" in page.text
    conflict = client.post("/jobs", data=form)
    assert conflict.status_code == 409 and "already queued or running" in conflict.text


def test_errors_are_escaped_everywhere(sync_env: SyncEnv, client: TestClient) -> None:
    ledger = sync_env.ledger
    job = finished_job(ledger, JobStatus.FAILED, completed=1, failed=1, error=HOSTILE)
    ledger.update_job(job.id, error=f"job: {HOSTILE}")
    assert ledger.get_job(job.id).chunks[1].error == HOSTILE  # type: ignore[index]
    assert ledger.get_job(job.id).chunks[1].status is ChunkStatus.FAILED  # type: ignore[index]

    for path in (
        "/",
        "/fragments/jobs",
        f"/jobs/{job.id}",
        f"/jobs/{job.id}?failed=true",
        f"/fragments/jobs/{job.id}",
        f"/fragments/jobs/{job.id}?failed=true",
        "/settings",
    ):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert "<script>alert" not in answer.text, path
        if "jobs/" in path:
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text, path
    detail = client.get(f"/jobs/{job.id}").text
    assert "Error: job: &lt;script&gt;" in detail
    assert "error: &lt;script&gt;" in detail  # the chunk's, in the tree
    # and in JSON it is the plain string
    assert client.get(f"/api/jobs/{job.id}").json()["error"] == f"job: {HOSTILE}"


def test_static_assets_are_served(client: TestClient) -> None:
    assert "poll" in client.get("/static/live.js").text
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/openapi.json").json()["info"]["title"] == "Jobs View"


# -- jobsview serve -----------------------------------------------------------


def test_serve_refuses_a_public_address_without_a_token(
    sync_env: SyncEnv, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    served: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(kw))
    code, out, err = cli("serve", "--host", "0.0.0.0")
    assert code == 1
    assert "refusing to listen on 0.0.0.0 without JOBSVIEW_API_TOKEN" in out + err
    assert served == []

    sync_env.set(api_token=TOKEN)
    code, out, err = cli("serve", "--host", "0.0.0.0", "--port", "8099")
    assert code == 0, out + err
    assert served == [{"host": "0.0.0.0", "port": 8099, "log_level": "warning"}]
    assert TOKEN not in out + err


def test_the_flow_run_link_only_where_a_prefect_ui_is_served(
    sync_env: SyncEnv, prefect_server: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session's Prefect server, like `serve`'s temporary one, serves no UI: no dead link.
    (tests/deployments checks the link against a real `prefect server start`.)"""
    from prefect.settings import PREFECT_API_URL

    from tests.views.web.conftest import BASE_URL
    from views.web import Launcher, create_app

    monkeypatch.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))
    job = finished_job(sync_env.ledger, JobStatus.COMPLETED, failed=0)
    sync_env.ledger.update_job(job.id, flow_run_id="00000000-0000-0000-0000-000000000001")
    launcher = Launcher(sync_env.settings)
    assert launcher.ui_url() is None
    app = create_app(sync_env.settings, launcher, reconcile_in_background=False)
    with TestClient(app, base_url=BASE_URL) as web:
        page = web.get(f"/jobs/{job.id}")
    assert page.status_code == 200 and "Prefect flow run" not in page.text
