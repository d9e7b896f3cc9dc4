"""Only the operator drives the web Jobs View: other sites' pages cannot start, cancel or
change anything through the operator's browser, DNS rebinding finds no answer, pages cannot
be framed, and no secret is shown. (The real-browser attack is in test_browser.py.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from chunking import SyncSize
from ledger.models import JobStatus
from tests.databases import database
from tests.support import SyncEnv
from tests.views.web.conftest import (
    BASE_URL,
    FakeLauncher,
    api_writes,
    csrf,
    finished_job,
    form_writes,
    make_app,
    web_client,
)
from views.web import api, pages

TOKEN = "web-s3cret-token-value"
FOREIGN = ["http://evil.example", "null", "http://127.0.0.1:9999", "https://127.0.0.1.evil.example"]
JSON_HEADERS = {"Content-Type": "application/json"}


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """SQLite only: the guard is the same whatever the database."""
    with database("sqlite", tmp_path) as url:
        yield url


def _snapshot(sync_env: SyncEnv) -> Any:
    ledger = sync_env.ledger
    jobs = [job.to_dict(include_chunks=False) for job in ledger.list_jobs()]
    return jobs, ledger.tenant_sync_sizes(), ledger.default_sync_size()


def _jobs(sync_env: SyncEnv, client: TestClient) -> tuple[str, str]:
    """A queued job (to cancel) and an incomplete one (to resume)."""
    queued = client.post("/api/jobs", json={"tenant": "acme", "sync_type": "full"}).json()
    done = finished_job(sync_env.ledger, JobStatus.INCOMPLETE, sync_type="partial")
    return queued["id"], done.id


def test_the_write_lists_cover_every_write_route() -> None:
    """A new write route must join the lists above, so that the tests below cover it."""
    routes = {
        (method, route.path)
        for route in [*api.router.routes, *pages.router.routes]
        if isinstance(route, APIRoute)
        for method in route.methods - {"GET", "HEAD"}
    }
    ids = {"job_id": "{job_id}", "done_id": "{job_id}"}
    listed = {(m, p.replace("/acme", "/{tenant}")) for m, p, _ in api_writes(**ids)}
    listed |= {("POST", p) for p, _ in form_writes(**ids)}
    assert routes == listed


@pytest.mark.parametrize("origin", FOREIGN)
def test_writes_from_another_origin_are_refused_everywhere(
    sync_env: SyncEnv, client: TestClient, launcher: FakeLauncher, origin: str
) -> None:
    job_id, done_id = _jobs(sync_env, client)
    before, launched = _snapshot(sync_env), list(launcher.launched)
    token = csrf(client)  # even a valid token does not make another site's post ours
    for method, path, body in api_writes(job_id, done_id):
        answer = client.request(method, path, json=body, headers={"Origin": origin})
        assert answer.status_code == 403, (method, path, answer.text)
        assert "not from this server's own pages" in answer.json()["detail"]
    for path, form in form_writes(job_id, done_id):
        answer = client.post(
            path,
            data={**form, "csrf_token": token},
            headers={"Origin": origin},
            follow_redirects=False,
        )
        assert answer.status_code == 403, (path, answer.text)
        assert answer.headers["content-type"].startswith("text/html")
        assert "<h1>Error 403</h1>" in answer.text and "own pages" in answer.text
    assert _snapshot(sync_env) == before and launcher.launched == launched


def test_writes_from_the_servers_own_pages_work(
    sync_env: SyncEnv, client: TestClient, launcher: FakeLauncher
) -> None:
    job_id, done_id = _jobs(sync_env, client)
    own = {"Origin": BASE_URL}
    for method, path, body in api_writes(job_id, done_id):
        if path.endswith("/resume"):
            continue  # resumed below, from the page
        answer = client.request(method, path, json=body, headers=own)
        assert answer.is_success, (method, path, answer.text)
    token = csrf(client)
    resumed = client.post(
        f"/jobs/{done_id}/resume", data={"csrf_token": token}, headers=own, follow_redirects=False
    )
    assert resumed.status_code == 303, resumed.text
    saved = client.post(
        "/settings",
        data={"tenant": "initech", "sync_size": "xlarge", "csrf_token": token},
        headers={"Origin": f"{BASE_URL}:80"},  # the default port, spelled out
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert sync_env.ledger.tenant_sync_sizes()["initech"] is SyncSize.XLARGE
    assert sync_env.ledger.get_job(job_id).cancel_requested
    assert len(launcher.launched) == 3  # acme, globex, the resume


def test_the_referer_is_checked_when_there_is_no_origin(
    sync_env: SyncEnv, client: TestClient
) -> None:
    job_id, _ = _jobs(sync_env, client)
    token = csrf(client)
    refused = client.post(
        f"/jobs/{job_id}/cancel",
        data={"csrf_token": token},
        headers={"Referer": "http://evil.example/jobs/" + job_id},
    )
    assert refused.status_code == 403 and "evil.example" in refused.text
    api = client.post(
        f"/api/jobs/{job_id}/cancel", json={}, headers={"Referer": "http://localhost/x"}
    )
    assert api.status_code == 403  # localhost is not 127.0.0.1: another origin
    assert not sync_env.ledger.get_job(job_id).cancel_requested

    ok = client.post(
        f"/jobs/{job_id}/cancel",
        data={"csrf_token": token},
        headers={"Referer": f"{BASE_URL}/jobs/{job_id}"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and sync_env.ledger.get_job(job_id).cancel_requested


def test_form_posts_need_the_csrf_token_of_this_browser_and_this_server(
    sync_env: SyncEnv, client: TestClient, app: Any, launcher: FakeLauncher
) -> None:
    job_id, done_id = _jobs(sync_env, client)
    before, launched = _snapshot(sync_env), list(launcher.launched)
    good = csrf(client)
    with TestClient(app, base_url=BASE_URL) as other_browser:
        theirs = csrf(other_browser)
    restarted = make_app(sync_env.settings)
    with TestClient(restarted, base_url=BASE_URL) as old_tab:
        stale = csrf(old_tab)  # signed by another process's secret
    assert good != theirs
    for path, form in form_writes(job_id, done_id):
        for token in (None, "", "0" * 64, good[:-1], theirs, stale):
            data = form if token is None else {**form, "csrf_token": token}
            answer = client.post(path, data=data, follow_redirects=False)
            assert answer.status_code == 403, (path, token, answer.text)
            assert "no valid CSRF token" in answer.text and "Reload the page" in answer.text
        for content_type, raw in (
            ("text/plain", f"csrf_token={good}"),
            (
                "multipart/form-data; boundary=x",
                f'--x\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{good}\r\n'
                "--x--\r\n",
            ),
            (None, ""),
        ):
            headers = {"Content-Type": content_type} if content_type else {}
            answer = client.post(path, content=raw, headers=headers, follow_redirects=False)
            assert answer.status_code == 403, (path, content_type)
    # the token from the cookie alone does not do: the form must carry it
    client.cookies.set("jobsview_csrf", "x" * 43)
    assert client.post("/settings", data={"tenant": "acme", "csrf_token": good}).status_code == 403
    assert _snapshot(sync_env) == before and launcher.launched == launched


def test_the_csrf_cookie_is_http_only_and_not_sent_cross_site(client: TestClient) -> None:
    first = client.get("/")
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("jobsview_csrf=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "set-cookie" not in client.get("/").headers  # kept, not renewed
    assert "set-cookie" not in client.get("/api/jobs").headers  # only where a form is rendered


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_api_cancel_is_not_a_simple_request(
    sync_env: SyncEnv, client: TestClient, content_type: str | None
) -> None:
    job_id, done_id = _jobs(sync_env, client)
    headers = {"Content-Type": content_type} if content_type else {}
    for path in (f"/api/jobs/{job_id}/cancel", f"/api/jobs/{done_id}/resume"):
        answer = client.post(path, content=b"{}" if content_type else b"", headers=headers)
        assert answer.status_code == 415, answer.text
        assert "Content-Type: application/json" in answer.json()["detail"]
    assert not sync_env.ledger.get_job(job_id).cancel_requested
    assert not sync_env.ledger.get_job(done_id).resumed_by

    assert client.post(f"/api/jobs/{job_id}/cancel", headers=JSON_HEADERS).status_code == 200
    assert sync_env.ledger.get_job(job_id).cancel_requested


def test_with_a_token_api_writes_may_skip_the_json(sync_env: SyncEnv, client: TestClient) -> None:
    job_id, _ = _jobs(sync_env, client)
    sync_env.set(api_token=TOKEN)
    with web_client(sync_env) as guarded:  # the web, restarted with the token
        auth = {"Authorization": f"Bearer {TOKEN}"}
        plain = guarded.post(f"/api/jobs/{job_id}/cancel", headers=auth)
        assert plain.status_code == 200 and sync_env.ledger.get_job(job_id).cancel_requested
        wrong = guarded.post(f"/api/jobs/{job_id}/cancel", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8080", "127.0.0.1.nip.io", "localhost.evil.example", ""]
)
def test_a_foreign_host_is_refused(sync_env: SyncEnv, client: TestClient, host: str) -> None:
    for path in ("/", "/settings", "/jobs/deadbeef", "/static/live.js", "/openapi.json"):
        answer = client.get(path, headers={"Host": host})
        assert answer.status_code == 400, (path, host)
        assert "JOBSVIEW_ALLOWED_HOSTS" in answer.text
    page = client.get("/", headers={"Host": host})
    assert (
        page.headers["content-type"].startswith("text/html") and "<h1>Error 400</h1>" in page.text
    )
    api = client.get("/api/jobs", headers={"Host": host})
    assert api.status_code == 400 and "JOBSVIEW_ALLOWED_HOSTS" in api.json()["detail"]
    if host:
        assert f"JOBSVIEW_ALLOWED_HOSTS={host.split(':')[0]}" in api.json()["detail"]
    write = client.post(
        "/api/jobs", json={"tenant": "acme", "sync_type": "full"}, headers={"Host": host}
    )
    assert write.status_code == 400 and sync_env.ledger.list_jobs() == []


@pytest.mark.parametrize(
    "host",
    ["localhost", "localhost:8080", "LOCALHOST:1", "127.0.0.1:8080", "127.0.0.2", "[::1]:8080"],
)
def test_loopback_names_are_answered_on_any_port(client: TestClient, host: str) -> None:
    assert client.get("/api/jobs", headers={"Host": host}).status_code == 200


def test_allowed_hosts_are_answered(sync_env: SyncEnv) -> None:
    sync_env.set(allowed_hosts="jobs.example.com, 10.0.0.5:8000")
    with TestClient(
        make_app(sync_env.settings),
        base_url="https://jobs.example.com",
    ) as web:
        cookie = web.get("/").headers["set-cookie"]
        assert "; Secure" in cookie  # served over https: the cookie says so
        for host, code in (
            ("jobs.example.com", 200),
            ("JOBS.example.com:8443", 200),  # a name alone: any port
            ("10.0.0.5:8000", 200),
            ("10.0.0.5:9000", 400),
            ("10.0.0.5", 400),  # 443, not 8000
            ("example.com", 400),
            ("evil.jobs.example.com", 400),
        ):
            assert web.get("/", headers={"Host": host}).status_code == code, host
        # and writes from its own pages there work (the Origin names the same host)
        started = web.post(
            "/api/jobs",
            json={"tenant": "acme", "sync_type": "full"},
            headers={"Origin": "https://jobs.example.com"},
        )
        assert started.status_code == 202, started.text


def _assert_guarded(answer: Any) -> None:
    headers = answer.headers
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    csp = headers["content-security-policy"]
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ):
        assert directive in csp, directive
    assert "unsafe" not in csp


def test_every_answer_carries_the_security_headers(sync_env: SyncEnv, client: TestClient) -> None:
    job = finished_job(sync_env.ledger, JobStatus.INCOMPLETE)
    for path in (
        "/",
        f"/jobs/{job.id}",
        "/settings",
        "/fragments/jobs",
        f"/fragments/jobs/{job.id}",
        "/jobs/deadbeef",
        "/api/jobs",
        f"/api/jobs/{job.id}",
        "/api/settings",
        "/static/style.css",
        "/openapi.json",
    ):
        _assert_guarded(client.get(path))
    _assert_guarded(client.get("/", headers={"Host": "evil.example"}))
    _assert_guarded(client.post(f"/api/jobs/{job.id}/cancel", content=b"x"))
    _assert_guarded(client.post("/settings", data={"tenant": "acme"}))


def test_pages_need_nothing_the_policy_forbids(sync_env: SyncEnv, client: TestClient) -> None:
    """No inline script, style or event handler, and no asset from elsewhere."""
    job = finished_job(sync_env.ledger, JobStatus.RUNNING, completed=3, failed=1, pending=2)
    for path in (
        "/",
        f"/jobs/{job.id}",
        "/settings",
        "/jobs/deadbeef",
        f"/fragments/jobs/{job.id}",
        "/docs",
    ):
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", html), path
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=", html), path
        assert not re.search(r"(src|href)=\"(https?:)?//", html), path
    detail = client.get(f"/jobs/{job.id}").text
    assert '<rect class="fill s-completed" x="0.00" width="50.00"' in detail
    assert '<rect class="fill s-failed" x="50.00" width="16.67"' in detail


def test_the_api_docs_are_served_from_here(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200 and 'data-openapi="/openapi.json"' in docs.text
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', docs.text):
        assert client.get(asset).status_code == 200, asset
    assert client.get("/redoc").status_code == 404  # it would load a CDN


def test_every_write_form_carries_the_csrf_token(sync_env: SyncEnv, client: TestClient) -> None:
    running = finished_job(sync_env.ledger, JobStatus.RUNNING, pending=2)
    incomplete = finished_job(sync_env.ledger, JobStatus.INCOMPLETE, tenant="globex")
    for path in ("/", "/settings", f"/jobs/{running.id}", f"/jobs/{incomplete.id}"):
        html = client.get(path).text
        forms = re.findall(r"<form method=\"post\".*?</form>", html, re.S)
        assert forms, path
        for form in forms:
            assert re.search(r'name="csrf_token" value="[0-9a-f]{64}"', form), (path, form)


def test_api_settings_never_show_passwords(sync_env: SyncEnv) -> None:
    sync_env.set(
        source_url="http://user:pass@source.example:8765",
        destination_url="postgresql://writer:dest-pw-123@db.example/warehouse",
        dask_address="tcp://dask:dask-pw-456@scheduler.example:8786",
        api_token=TOKEN,
    )
    with web_client(sync_env) as client:
        answer = client.get("/api/settings")
    assert answer.status_code == 200
    for secret in ("pass@", "dest-pw-123", "dask-pw-456", TOKEN):
        assert secret not in answer.text, secret
    settings = answer.json()["settings"]
    assert settings["JOBSVIEW_SOURCE_URL"].startswith("http://user:")
    assert "source.example:8765" in settings["JOBSVIEW_SOURCE_URL"]
    assert "db.example/warehouse" in settings["JOBSVIEW_DESTINATION_URL"]
    assert settings["JOBSVIEW_API_TOKEN"] == "********"


# -- the pieces ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("localhost", ("localhost", None)),
        ("Jobs.Example.com:8080", ("jobs.example.com", 8080)),
        ("[::1]:8080", ("::1", 8080)),
        ("[::1]", ("::1", None)),
        ("::1", ("::1", None)),
        ("example.com.", ("example.com", None)),
        ("example.com:x", None),
        ("[::1", None),
        ("[::1]x", None),
        ("", None),
        (":80", None),
    ],
)
def test_split_host(value: str, parsed: tuple[str, int | None] | None) -> None:
    from views.web.security import split_host

    assert split_host(value) == parsed


def test_host_allowed_and_same_origin() -> None:
    from views.web.security import host_allowed, parse_allowed_hosts, same_origin

    allowed = parse_allowed_hosts(("jobs.example.com", "10.0.0.5:8000", "[::2]:81"))
    assert host_allowed("[::2]:81", "http", allowed)
    assert not host_allowed("[::2]", "http", allowed)
    assert host_allowed("10.0.0.5", "http", parse_allowed_hosts(("10.0.0.5:80",)))
    assert same_origin("http://127.0.0.1:8080", "127.0.0.1:8080")
    assert same_origin("https://jobs.example.com", "jobs.example.com")  # behind a TLS proxy
    assert same_origin("http://[::1]:8080/page", "[::1]:8080")
    assert not same_origin("http://127.0.0.1:8081", "127.0.0.1:8080")
    assert not same_origin("http://127.0.0.1", "127.0.0.1:8080")
    assert not same_origin("javascript:alert(1)", "127.0.0.1")
    assert not same_origin("http://127.0.0.1:99999", "127.0.0.1")
    assert not same_origin("http://user@127.0.0.1:8080@evil.example", "127.0.0.1:8080")
