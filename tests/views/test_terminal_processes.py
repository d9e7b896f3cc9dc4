"""The terminal of real ``jobsview`` processes: failures in one line, nothing left running."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest

from demo.faults import MalformedRule
from tests.support import SyncEnv
from tests.views.test_commands import clean_env, jobsview
from tests.views.test_recovery_cli import call, wait_for_chunks

LOG_LINE = re.compile(r"^Full log, with tracebacks: (?P<path>\S+\.log)$", re.MULTILINE)
REJECTION = "[/oops] [bold]x[/bold]"


@pytest.fixture(params=["threads", "dask"])
def task_runner(request: pytest.FixtureRequest, db_url: str) -> str:
    """Chunks run on threads here, or on the processes of a local Dask cluster."""
    if request.param == "dask":
        pytest.importorskip("prefect_dask")
        if not db_url.startswith("sqlite"):
            pytest.skip("the task runner does not depend on the database")
    return str(request.param)


def test_a_failed_chunk_is_one_line_and_its_trace_is_in_the_log(
    sync_env: SyncEnv, cli_env: dict[str, str], task_runner: str
) -> None:
    sync_env.source.faults.malformed = [MalformedRule(resource="deals", offset=400)]  # chunk 2
    env = cli_env | {"JOBSVIEW_CHUNK_RETRIES": "1", "JOBSVIEW_TASK_RUNNER": task_runner}
    result = call(env, "run", "--tenant", "acme", "--type", "full")
    assert result.returncode == 3, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    failures = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(failures) == 1 and "offset=400" in failures[0], result.stderr
    assert "Retries are exhausted" in failures[0]
    (path,) = LOG_LINE.findall(result.stderr)
    kept = Path(path).read_text()
    assert "Traceback (most recent call last)" in kept and "MalformedPageError" in kept
    assert Path(path).parent == Path(cli_env["PREFECT_HOME"]) / "jobsview" / "logs"


@pytest.fixture
def rejecting_source() -> Iterator[str]:
    """A source that counts records, then rejects every read with a body full of markup."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            counting = "limit=1&" in f"{self.path}&"
            body = json.dumps({"items": [{"id": 1}], "total": 30}) if counting else REJECTION
            self.send_response(200 if counting else 400)
            self.send_header("Content-Length", str(len(body.encode())))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def test_a_rejected_request_is_printed_verbatim(
    sync_env: SyncEnv, cli_env: dict[str, str], rejecting_source: str
) -> None:
    env = cli_env | {"JOBSVIEW_SOURCE_URL": rejecting_source}
    result = call(env, "run", "--tenant", "acme", "--type", "full")
    assert result.returncode == 1, result.stderr[-3000:]
    assert f"error: the source rejected the request: {REJECTION} (" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert REJECTION in result.stderr and LOG_LINE.search(result.stderr)
    result = call(env, "run", "--tenant", "acme", "--type", "full", "--json")
    assert result.returncode == 1 and REJECTION in json.loads(result.stdout)["error"]


def descendants(pid: int) -> set[int]:
    """Every living process under ``pid``, from /proc."""
    children: dict[int, set[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, set()).add(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_kill_9_leaves_no_process_behind(
    sync_env: SyncEnv, tmp_path: Path, task_runner: str
) -> None:
    """Without PREFECT_API_URL the run's temporary Prefect server is its child (and Dask's
    workers are): they must end with the run, even when the run is killed with SIGKILL."""
    sync_env.source.faults.slow_ms = 100
    env = clean_env(tmp_path) | sync_env.environment()
    env |= {"JOBSVIEW_PAGE_SIZE": "20", "JOBSVIEW_TASK_RUNNER": task_runner}
    proc = subprocess.Popen(
        [*jobsview(), "run", "--tenant", "acme", "--type", "full", "--sync-size", "small"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    spawned: set[int] = set()
    try:
        wait_for_chunks(sync_env, 2, timeout=180)
        spawned = descendants(proc.pid)
        assert spawned, "the run started no temporary Prefect server"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in spawned) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in spawned if alive(pid)]
    finally:
        for pid in {proc.pid} | spawned:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
