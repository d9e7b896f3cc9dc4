"""The CLI contract: output streams, --json documents and exit codes."""

from __future__ import annotations

import json
import uuid

import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

from chunking import plan_chunks
from demo.faults import MalformedRule
from ledger import Drift, JobStatus
from tests.factories import queued_job
from tests.support import SyncEnv
from tests.views.conftest import Cli


def test_run_json_is_one_document_and_exit_0(cli: Cli) -> None:
    code, out, _ = cli(
        "run", "--tenant", "globex", "--type", "full", "--sync-size", "small", "--json"
    )
    assert code == 0
    job = json.loads(out)
    assert job["status"] == "completed" and job["sync_size"] == "small" and job["chunk_size"] == 100
    assert job["counts"]["completed"] == len(job["chunks"]) == 3
    assert set(job["chunks"][0]) >= {
        "index",
        "resource",
        "offset",
        "limit",
        "status",
        "records",
        "attempts",
        "error",
        "worker",
        "started_at",
        "finished_at",
    }

    code, out, _ = cli("jobs", "--json")
    assert code == 0 and [j["id"] for j in json.loads(out)] == [job["id"]]
    assert "chunks" not in json.loads(out)[0]

    code, out, _ = cli("show", job["id"][:8])
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"Job {job['id']} [completed]"
    assert [line.split(" ")[:4] for line in lines if line.startswith("|- ")] == [
        ["|-", "Chunk", str(n), "[completed]"] for n in (1, 2, 3)
    ]

    code, out, _ = cli("run", "--tenant", "globex", "--type", "full")
    assert code == 0 and f"Previous full job for globex: {job['id']} completed" in out


def test_incomplete_run_exits_3_with_json(sync_env: SyncEnv, cli: Cli) -> None:
    sync_env.set(chunk_retries=0)
    sync_env.source.faults.malformed = [
        MalformedRule(resource="deals", offset=400)
    ]  # chunk 2 reads from 400: a margin early
    code, out, err = cli("run", "--tenant", "acme", "--type", "full", "--json")
    assert code == 3
    job = json.loads(out)
    assert job["status"] == "incomplete"
    assert "previous full job" in err.lower()  # human notes stay off stdout


def test_failed_run_exits_1(cli: Cli) -> None:
    code, out, _ = cli("run", "--tenant", "nosuch", "--type", "full", "--json")
    assert code == 1 and json.loads(out)["status"] == "failed"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--tenant", "Bad Tenant", "--type", "full"], "lowercase letters"),
        (["--tenant", "acme", "--type", "delta"], "full"),
        (["--tenant", "acme", "--type", "full", "--sync-size", "huge"], "small"),
    ],
)
def test_bad_usage_exits_2_and_creates_no_job(
    sync_env: SyncEnv, cli: Cli, args: list[str], expected: str
) -> None:
    code, _, err = cli("run", *args)
    assert code == 2 and expected in err
    assert sync_env.ledger.list_jobs() == []


def test_a_second_run_is_refused_while_one_is_active(sync_env: SyncEnv, cli: Cli) -> None:
    """Refused before any flow run exists: one line (or one document), exit 1, nothing in
    Prefect."""
    tenant = f"busy{uuid.uuid4().hex[:6]}"
    blocking = queued_job(sync_env.ledger, tenant)
    code, out, err = cli("run", "--tenant", tenant, "--type", "full", "--json")
    assert code == 1
    assert json.loads(out)["blocking_job_id"] == blocking.id and blocking.id in err
    code, out, err = cli("run", "--tenant", tenant, "--type", "full")
    assert code == 1 and out == ""
    assert err.strip().count("\n") == 0 and "already queued or running" in err
    assert "Traceback" not in err
    assert len(sync_env.ledger.list_jobs()) == 1
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"tenant:{tenant}"]))
        )
    assert runs == []


def test_show_and_watch_unknown_job_exit_1(cli: Cli) -> None:
    for command in ("show", "watch"):
        code, _, err = cli(command, "deadbeef")
        assert code == 1 and "no job matches" in err


def test_watch_prints_the_final_tree(cli: Cli) -> None:
    code, out, _ = cli("run", "--tenant", "globex", "--type", "full", "--json")
    job_id = json.loads(out)["id"]
    code, out, _ = cli("watch", job_id)
    assert code == 0 and "|- Chunk 1 [completed]" in out


def test_settings_set_and_show_masks_secrets(sync_env: SyncEnv, cli: Cli) -> None:
    sync_env.set(source_token="very-secret", api_token="also-secret")
    code, out, _ = cli("settings", "set", "--tenant", "acme", "--sync-size", "large")
    assert code == 0 and "large" in out
    code, out, _ = cli("settings", "show", "--json")
    shown = json.loads(out)
    assert shown["tenants"] == {"acme": "large"}
    assert shown["settings"]["JOBSVIEW_SOURCE_TOKEN"] == "********"
    code, out, _ = cli("settings", "show")
    assert "very-secret" not in out and "also-secret" not in out
    code, _, err = cli("settings", "set", "--tenant", "acme", "--sync-size", "giant")
    assert code == 2 and "xlarge" in err
    # the stored size is the default for the tenant's next run
    code, out, _ = cli("run", "--tenant", "acme", "--type", "full", "--json")
    assert json.loads(out)["sync_size"] == "large" and json.loads(out)["chunk_size"] == 2_000


def test_settings_show_masks_passwords_in_urls(sync_env: SyncEnv, cli: Cli) -> None:
    sync_env.set(
        source_url="http://user:hunter2@127.0.0.1:1",
        destination_url="postgresql+psycopg://u:hunter2@127.0.0.1:1/x",
    )
    code, out, _ = cli("settings", "show", "--json")
    shown = json.loads(out)["settings"]
    assert shown["JOBSVIEW_SOURCE_URL"] == "http://user:***@127.0.0.1:1/"
    assert "hunter2" not in out
    code, out, _ = cli("settings", "show")
    assert code == 0 and "hunter2" not in out


def test_unreachable_database_is_a_clear_error(sync_env: SyncEnv, cli: Cli) -> None:
    sync_env.set(database_url="postgresql+psycopg://u:pw@127.0.0.1:1/x")
    code, out, err = cli("jobs", "--json")
    assert code == 1 and "cannot open database" in err and ":pw@" not in err
    assert "error" in json.loads(out)
    code, _, err = cli("run", "--tenant", "acme", "--type", "full")
    assert code == 1 and "cannot open database" in err


def test_invalid_setting_is_reported_at_start_up(cli: Cli) -> None:
    code, _, err = cli("jobs", env={"JOBSVIEW_SYNC_SIZE": "gigantic"})
    assert code == 1 and "JOBSVIEW_SYNC_SIZE" in err and "xlarge" in err


def test_drift_is_shown_in_the_jobs_list_and_the_tree(sync_env: SyncEnv, cli: Cli) -> None:
    ledger = sync_env.ledger
    job = queued_job(ledger)
    ledger.add_chunks(job.id, plan_chunks([("contacts", 100)], 100), {})
    ledger.mark_running(job.id, ran_as_full=False)
    ledger.finish_job(job.id, JobStatus.COMPLETED, records=101, drift={"contacts": Drift(101, 99)})
    code, out, _ = cli("jobs")
    assert code == 0 and "101 (drift)" in out
    code, out, _ = cli("show", job.id[:8])
    assert "drift: contacts 101 stored, 99 at the source (+2)" in out
