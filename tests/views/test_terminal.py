"""The terminal on failure paths: one clear line, one JSON document with --json, text verbatim."""

from __future__ import annotations

import io
import json
import logging

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlalchemy import text

import core.db
from core.db import get_engine
from tests.support import SyncEnv
from tests.views.conftest import Cli
from views.logs import OneLine, run_log


def test_markup_in_arguments_is_printed_verbatim(cli: Cli) -> None:
    code, out, err = cli("show", "[/x]")
    assert code == 1 and out == ""
    assert err == "error: no job matches '[/x]'; list jobs with `jobsview jobs`\n"
    code, _, err = cli("cancel", "[bold]x[/bold]")
    assert code == 1 and "'[bold]x[/bold]'" in err


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--tenant", "acme", "--type", "delta", "--json"],  # unknown choice
        ["run", "--type", "full", "--json"],  # missing option
        ["run", "--tenant", "Bad Tenant", "--type", "full", "--json"],  # bad value
        ["jobs", "--limit", "0", "--json"],
        ["jobs", "--status", "lost", "--json"],
        ["show", "--json"],  # missing argument
        ["resume", "--json", "--bogus", "x"],  # unknown option
        ["settings", "show", "--json", "--bogus"],
        ["reconcile", "--json", "extra"],
    ],
)
def test_usage_errors_with_json_are_one_document_and_exit_2(cli: Cli, args: list[str]) -> None:
    code, out, err = cli(*args)
    assert code == 2
    assert set(json.loads(out)) == {"error"} and json.loads(out)["error"]
    assert "Usage:" in err  # click's own message stays on stderr
    code, out, err = cli(*[arg for arg in args if arg != "--json"])
    assert code == 2 and out == "" and "Usage:" in err


def test_every_failure_with_json_is_one_document(sync_env: SyncEnv, cli: Cli) -> None:
    for args in (["show", "deadbeef"], ["resume", "deadbeef"], ["cancel", "deadbeef"]):
        code, out, _ = cli(*args, "--json")
        assert code == 1 and "no job matches" in json.loads(out)["error"]

    code, out, _ = cli("run", "--tenant", "nosuch", "--type", "full", "--json")
    assert code == 1 and json.loads(out)["status"] == "failed"  # a failed job: the job itself

    invalid = {"JOBSVIEW_SYNC_SIZE": "gigantic"}
    for args in (["jobs"], ["settings", "show"], ["run", "--tenant", "acme", "--type", "full"]):
        code, out, err = cli(*args, "--json", env=invalid)
        assert code == 1 and "JOBSVIEW_SYNC_SIZE" in json.loads(out)["error"], args
        assert err.count("\n") == 1 and err.startswith("error: ")

    sync_env.set(database_url="postgresql+psycopg://u:pw@127.0.0.1:1/x")
    for args in (["jobs"], ["settings", "show"], ["show", "deadbeef"]):
        code, out, err = cli(*args, "--json")
        assert code == 1 and "cannot open database" in json.loads(out)["error"], args
        assert ":pw@" not in out + err

    # --json given to a command that does not take it is click's usage error, nothing more
    for args in (["watch", "x", "--json"], ["settings", "--json"]):
        code, out, err = cli(*args)
        assert code == 2 and out == "" and "Usage:" in err


def test_a_database_error_is_one_line(
    sync_env: SyncEnv, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("jobs")[0] == 0  # the ledger exists and is migrated in this process
    with get_engine(sync_env.db_url).begin() as conn:
        conn.execute(text("ALTER TABLE jobs RENAME TO jobs_gone"))
    monkeypatch.setattr(core.db, "DB_RETRY_SECONDS", 0.2)
    code, out, err = cli("jobs", "--json")
    assert code == 1 and json.loads(out)["error"].startswith("database error: ")
    code, out, err = cli("show", "deadbeef")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("error: database error: ") and "jobs" in err


def test_an_unreachable_prefect_api_is_one_line(sync_env: SyncEnv, cli: Cli) -> None:
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:1/api"}):
        code, out, err = cli("run", "--tenant", "acme", "--type", "full")
        assert code == 1 and err.count("\n") == 1
        assert err.startswith("error: cannot reach the Prefect API at http://127.0.0.1:1/api")
        assert "PREFECT_API_URL" in err
        code, out, _ = cli("run", "--tenant", "acme", "--type", "full", "--json")
        assert code == 1 and "PREFECT_API_URL" in json.loads(out)["error"]
    assert sync_env.ledger.list_jobs() == []  # checked before a job was claimed


def test_console_lines_are_one_line_and_the_file_has_the_trace(sync_env: SyncEnv) -> None:
    terminal = io.StringIO()
    console = logging.StreamHandler(terminal)
    console.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(console)
    task_log = logging.getLogger("prefect.task_runs")

    def run(name: str) -> dict[str, str]:
        return {"task_run_id": name, "task_run_name": name, "flow_run_id": "", "send_to_api": ""}

    try:
        with run_log() as log:
            assert isinstance(console.formatter, OneLine)
            try:
                raise ValueError("bad page\nsecond line")
            except ValueError:
                task_log.error("Task run failed with exception: x", exc_info=True, extra=run("1"))
            task_log.error("Finished in state Failed('x')", extra=run("1"))
            task_log.error("Finished in state Failed('y')", extra=run("2"))
            task_log.warning("two\nlines", extra=run("2"))
    finally:
        root.removeHandler(console)
    assert terminal.getvalue().splitlines() == [
        "ERROR Task run failed with exception: x",
        "ERROR Finished in state Failed('y')",  # task run 2 said nothing before: kept
        "WARNING two …",
    ]
    kept = log.path.read_text()
    assert "Traceback" in kept and "ValueError: bad page" in kept and "Failed('x')" in kept
    assert not isinstance(console.formatter, OneLine)  # put back
