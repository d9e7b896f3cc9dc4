"""``jobsview settings``: forgetting a misspelled tenant, and the destination actually used."""

from __future__ import annotations

import json

import pytest

from chunking import SyncSize
from ledger import JobStatus
from tests.support import SyncEnv
from tests.views.conftest import Cli
from tests.views.web.conftest import finished_job


def test_a_tenant_without_jobs_is_offered_and_forgotten(sync_env: SyncEnv, cli: Cli) -> None:
    ledger = sync_env.ledger
    finished_job(ledger, JobStatus.COMPLETED, failed=0)
    ledger.set_tenant_sync_size("acme", SyncSize.LARGE)
    ledger.set_tenant_sync_size("nobody", SyncSize.SMALL)
    ledger.set_watermarks("ghost", ["contacts"], ledger.list_jobs()[0].created_at, "x")
    assert ledger.tenants_without_jobs() == ["ghost", "nobody"]

    code, out, _ = cli("settings", "show")
    assert code == 0
    assert "nobody has no jobs" in out and "jobsview settings forget --tenant nobody" in out
    assert "acme has no jobs" not in out
    code, out, _ = cli("settings", "show", "--json")
    assert json.loads(out)["tenants_without_jobs"] == ["ghost", "nobody"]

    code, out, _ = cli("settings", "forget", "--tenant", "nobody")
    assert code == 0 and out == "Forgot tenant nobody: it had no jobs.\n"
    assert "nobody" not in ledger.tenant_sync_sizes() and "nobody" not in ledger.tenants()
    code, _, _ = cli("settings", "forget", "--tenant", "ghost")
    assert code == 0 and ledger.watermarks("ghost") == {}
    assert ledger.tenants_without_jobs() == []


def test_a_tenant_with_jobs_or_nothing_stored_is_refused(sync_env: SyncEnv, cli: Cli) -> None:
    ledger = sync_env.ledger
    finished_job(ledger, JobStatus.FAILED, tenant="acme", completed=0)
    ledger.set_tenant_sync_size("acme", SyncSize.LARGE)

    code, out, err = cli("settings", "forget", "--tenant", "acme")
    assert code == 1 and out == ""
    assert "tenant 'acme' has 1 job: only a tenant without jobs can be forgotten" in err
    assert ledger.tenant_sync_sizes() == {"acme": SyncSize.LARGE}

    code, _, err = cli("settings", "forget", "--tenant", "nosuch")
    assert code == 1 and "nothing is stored for tenant 'nosuch'" in err
    code, _, err = cli("settings", "forget", "--tenant", "Bad Name")
    assert code == 2 and "--tenant" in err
    ledger.set_default_sync_size(SyncSize.SMALL)
    code, _, _ = cli("settings", "forget", "--tenant", "*")
    assert code == 2 and ledger.default_sync_size() is SyncSize.SMALL


def test_the_destination_in_use_is_shown_with_its_password_masked(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    code, out, _ = cli("settings", "show")
    assert code == 0
    line = next(x for x in out.splitlines() if "JOBSVIEW_DESTINATION_URL" in x)
    assert "(unset)" not in line and "(from JOBSVIEW_DATABASE_URL)" in line
    code, out, _ = cli("settings", "show", "--json")
    document = json.loads(out)
    assert document["settings"]["JOBSVIEW_DESTINATION_URL"] is None  # the setting itself
    assert document["destination_in_use"] == document["settings"]["JOBSVIEW_DATABASE_URL"]
    assert "secret" not in out


def test_a_password_in_the_database_url_never_shows(
    sync_env: SyncEnv, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not sync_env.ledger.engine.url.drivername.startswith("postgresql"):
        pytest.skip("a password needs a server database")
    url = sync_env.ledger.engine.url.set(password="hunter2")
    sync_env.set(database_url=url.render_as_string(hide_password=False))
    monkeypatch.setenv("COLUMNS", "250")
    code, out, err = cli("settings", "show")
    assert code == 0 and "hunter2" not in out + err
    masked = url.render_as_string(hide_password=True)
    assert f"{masked} (from JOBSVIEW_DATABASE_URL)" in out
