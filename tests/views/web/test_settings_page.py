"""The Settings page: forgetting a tenant that has no jobs, from a CSRF-guarded form."""

from __future__ import annotations

from fastapi.testclient import TestClient

from chunking import SyncSize
from ledger import JobStatus
from tests.support import SyncEnv
from tests.views.web.conftest import csrf, finished_job


def _row(page: str, tenant: str) -> str:
    return page.split(f'data-tenant="{tenant}"')[1].split("</tr>")[0]


def test_a_tenant_without_jobs_can_be_forgotten(sync_env: SyncEnv, client: TestClient) -> None:
    ledger = sync_env.ledger
    finished_job(ledger, JobStatus.COMPLETED, failed=0)
    ledger.set_tenant_sync_size("nobody", SyncSize.LARGE)

    page = client.get("/settings").text
    assert 'action="/settings/forget"' in _row(page, "nobody")
    assert "Forget nobody" in _row(page, "nobody")
    assert "/settings/forget" not in _row(page, "acme")  # it has jobs

    forgot = client.post(
        "/settings/forget",
        data={"tenant": "nobody", "csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert forgot.status_code == 303 and forgot.headers["location"] == "/settings?forgot=nobody"
    page = client.get(forgot.headers["location"]).text
    assert "Forgot tenant nobody." in page and 'data-tenant="nobody"' not in page
    assert "nobody" not in ledger.tenant_sync_sizes()


def test_forgetting_a_tenant_with_jobs_is_refused(sync_env: SyncEnv, client: TestClient) -> None:
    ledger = sync_env.ledger
    finished_job(ledger, JobStatus.FAILED, completed=0)
    ledger.set_tenant_sync_size("acme", SyncSize.LARGE)
    token = csrf(client)

    refused = client.post("/settings/forget", data={"tenant": "acme", "csrf_token": token})
    assert refused.status_code == 409
    assert "tenant &#39;acme&#39; has 1 job: only a tenant without jobs" in refused.text
    assert ledger.tenant_sync_sizes() == {"acme": SyncSize.LARGE}

    unknown = client.post("/settings/forget", data={"tenant": "nosuch", "csrf_token": token})
    assert unknown.status_code == 404 and "nothing is stored for tenant" in unknown.text
    bad = client.post("/settings/forget", data={"tenant": "*", "csrf_token": token})
    assert bad.status_code == 422
    no_csrf = client.post("/settings/forget", data={"tenant": "acme"})
    assert no_csrf.status_code == 403
