"""The Jobs View in the Prefect UI: artifacts read back from the session's real Prefect server."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.filters import (
    ArtifactCollectionFilter,
    ArtifactCollectionFilterKey,
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
)
from prefect.client.schemas.objects import Artifact

import flows.artifacts as artifacts
from demo.faults import MalformedRule
from flows import new_job_id
from flows.artifacts import ChunkProgress, artifact_key, summary_markdown, table_chunks
from ledger import Chunk, ChunkStatus, Job, JobStatus
from ledger.models import empty_counts
from ledger.recovery import request_cancel
from tests.factories import unique
from tests.support import SyncEnv

# Artifacts do not depend on the ledger's database: test_sync_job covers both databases.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
KINDS = ("progress", "chunks", "summary")


def run(
    env: SyncEnv, tenant: str, sync_type: str = "full", sync_size: str | None = None, **kw: Any
) -> Job:
    state = env.sync(
        tenant=tenant, sync_type=sync_type, sync_size=sync_size, return_state=True, **kw
    )
    result = state.result(raise_on_failure=False)
    return result.job if hasattr(result, "job") else result


def artifacts_of(job: Job, kinds: Iterable[str] = KINDS) -> dict[str, Artifact]:
    """The job's flow run's artifacts by kind, polling briefly for the ones expected."""
    assert job.flow_run_id
    wanted = {artifact_key(job.tenant, job.sync_type, kind): kind for kind in kinds}
    flow_runs = ArtifactFilterFlowRunId(any_=[UUID(job.flow_run_id)])
    deadline = time.monotonic() + 10
    with get_client(sync_client=True) as client:
        while True:
            found = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=flow_runs))
            by_key = {a.key: a for a in found if a.key}
            if wanted.keys() <= by_key.keys() or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert all(str(a.flow_run_id) == job.flow_run_id for a in found)
    assert by_key.keys() <= wanted.keys(), f"unexpected artifacts: {sorted(by_key)}"
    return {wanted[key]: artifact for key, artifact in by_key.items()}


def table(artifact: Artifact) -> list[dict[str, Any]]:
    rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert isinstance(rows, list)
    return rows


@SQLITE_ONLY
def test_completed_job_progress_table_and_tree(sync_env: SyncEnv) -> None:
    tenant = unique("acme")
    sync_env.source.store.add_tenant(tenant, {"contacts": 2_500, "deals": 1_200})
    job = run(sync_env, tenant, sync_size="small")
    assert job.status is JobStatus.COMPLETED and job.total_chunks == 37
    found = artifacts_of(job)
    assert set(found) == set(KINDS)
    key_tenant = tenant.replace("_", "-")
    assert {a.key for a in found.values()} == {
        f"jobsview-{key_tenant}-full-{kind}" for kind in KINDS
    }

    progress = found["progress"]
    assert progress.type == "progress" and progress.data == 100
    assert progress.description == f"Job {job.id}: 37 of 37 chunks completed"

    rows = table(found["chunks"])
    assert found["chunks"].type == "table"
    assert [r["number"] for r in rows] == list(range(1, 38))
    assert list(rows[0]) == [
        "number",
        "resource",
        "window",
        "status",
        "records",
        "attempts",
        "error",
    ]
    assert {r["status"] for r in rows} == {"completed"} and sum(r["records"] for r in rows) == 3_700
    assert (rows[0]["resource"], rows[0]["window"]) == ("contacts", "0-99")
    assert (rows[24]["resource"], rows[24]["window"]) == ("contacts", "2400-")
    assert (rows[25]["resource"], rows[25]["window"]) == ("deals", "0-99")
    assert (rows[36]["window"], rows[36]["records"]) == ("1100-", 100)
    assert all(r["attempts"] == 1 and r["error"] == "" for r in rows)

    summary = found["summary"]
    assert summary.type == "markdown" and isinstance(summary.data, str)
    assert "- **Status:** **completed**" in summary.data
    assert "- **Sync Size:** small (100 records per chunk)" in summary.data
    assert "- **Chunks:** 37 of 37 chunks completed" in summary.data
    assert "- **Records:** 3,700" in summary.data
    assert f"Job {job.id} [completed]" in summary.data  # the seed's tree, in a code block
    assert "|- Chunk 1 [completed] contacts 0-99" in summary.data
    assert "|- Chunk 37 [completed] deals 1100- (to the end)" in summary.data
    assert "```text\n" in summary.data


@SQLITE_ONLY
def test_keys_are_per_tenant_and_type_and_their_history_is_the_job_history(
    sync_env: SyncEnv,
) -> None:
    tenant = unique("tiny_co")
    sync_env.source.store.add_tenant(tenant, {"contacts": 40, "deals": 0})
    first, second = run(sync_env, tenant), run(sync_env, tenant)
    partial = run(sync_env, tenant, sync_type="partial")  # nothing changed since the watermark
    assert (first.status, partial.status, partial.total_chunks) == (
        JobStatus.COMPLETED,
        JobStatus.COMPLETED,
        0,
    )
    key = artifact_key(tenant, "full", "summary")
    assert key == f"jobsview-{tenant.replace('_', '-')}-full-summary"
    found = artifacts_of(partial, kinds=("chunks", "summary"))  # zero chunks: no progress
    assert found["summary"].key == artifact_key(tenant, "partial", "summary")
    assert "- **Status:** **completed**" in found["summary"].data
    with get_client(sync_client=True) as client:
        history = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
        latest = client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[key]))
        )
    assert {str(a.flow_run_id) for a in history} == {first.flow_run_id, second.flow_run_id}
    assert [str(a.flow_run_id) for a in latest] == [second.flow_run_id]


@SQLITE_ONLY
def test_incomplete_job_table_shows_the_failed_chunk(sync_env: SyncEnv) -> None:
    tenant = unique("acme")
    sync_env.source.store.add_tenant(tenant, {"contacts": 2_500, "deals": 1_200})
    sync_env.set(chunk_retries=1)
    sync_env.source.faults.malformed = [
        MalformedRule(resource="contacts", offset=400, kind="missing-items")  # chunk 2
    ]
    job = run(sync_env, tenant, sync_size="medium")
    assert job.status is JobStatus.INCOMPLETE and job.total_chunks == 8
    found = artifacts_of(job)
    assert found["progress"].data == 87.5  # the share completed: one chunk failed
    assert found["progress"].description == f"Job {job.id}: 7 of 8 chunks completed, 1 failed"

    rows = table(found["chunks"])
    assert [(r["number"], r["status"]) for r in rows] == [
        (n, "failed" if n == 2 else "completed") for n in range(1, 9)
    ]
    failed = rows[1]
    assert (failed["window"], failed["records"], failed["attempts"]) == ("500-999", 0, 2)
    assert "contacts" in failed["error"] and "offset=400" in failed["error"]
    assert [r["records"] for r in rows] == [500, 0, 500, 500, 500, 500, 500, 200]
    assert "incomplete" in (found["chunks"].description or "")

    markdown = found["summary"].data
    assert "- **Status:** **incomplete**" in markdown
    assert "- **Chunks:** 7 of 8 chunks completed, 1 failed" in markdown
    assert "|- Chunk 2 [failed] contacts 500-999" in markdown
    assert "|     error: " in markdown and "offset=400" in markdown
    assert "|- Chunk 1 [completed]" in markdown


@SQLITE_ONLY
def test_failed_planning_publishes_an_empty_table_and_the_reason(sync_env: SyncEnv) -> None:
    job = run(sync_env, unique("no_such_tenant"))
    assert job.status is JobStatus.FAILED and job.total_chunks == 0
    found = artifacts_of(job, kinds=("chunks", "summary"))
    assert set(found) == {"chunks", "summary"}  # no chunk ran: no progress
    assert table(found["chunks"]) == []
    markdown = found["summary"].data
    assert (
        "- **Status:** **failed**" in markdown
        and "- **Chunks:** 0 of 0 chunks completed\n" in markdown
    )
    assert "unknown tenant or resource" in markdown
    assert f"Job {job.id} [failed]" in markdown


@SQLITE_ONLY
def test_cancelled_job_publishes_its_outcome(sync_env: SyncEnv) -> None:
    tenant = unique("acme")
    sync_env.source.store.add_tenant(tenant, {"contacts": 2_500, "deals": 1_200})
    sync_env.source.faults.slow_ms = 30
    sync_env.set(page_size=50, max_concurrent_chunks=2)
    job_id = new_job_id()
    box: dict[str, Job] = {}
    thread = threading.Thread(
        target=lambda: box.update(job=run(sync_env, tenant, sync_size="small", job_id=job_id))
    )
    thread.start()
    deadline = time.monotonic() + 20
    while completed(sync_env, job_id) < 2:
        assert time.monotonic() < deadline, "no chunk completed"
        time.sleep(0.05)
    request_cancel(sync_env.ledger, job_id)
    thread.join(timeout=30)
    job = box["job"]
    assert job.status is JobStatus.CANCELLED
    found = artifacts_of(job)
    statuses = {r["status"] for r in table(found["chunks"])}
    assert statuses == {"completed", "cancelled"}
    assert "- **Status:** **cancelled**" in found["summary"].data
    assert "[cancelled]" in found["summary"].data
    # the progress says what the settled ledger says, never "37/37 done"
    done, stopped = job.counts[ChunkStatus.COMPLETED], job.counts[ChunkStatus.CANCELLED]
    assert done + stopped == 37 and stopped > 0
    assert found["progress"].description == (
        f"Job {job.id}: {done} of 37 chunks completed, {stopped} cancelled"
    )
    assert found["progress"].data == round(100 * done / 37, 1)


def completed(env: SyncEnv, job_id: str) -> int:
    try:
        return env.ledger.get_job(job_id, with_chunks=False).counts[ChunkStatus.COMPLETED]
    except Exception:
        return 0


@SQLITE_ONLY
def test_a_failure_to_publish_never_fails_the_job(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("artifact API away")

    for name in ("create_progress_artifact", "_create"):
        monkeypatch.setattr(artifacts, name, broken)
    warnings: list[str] = []
    monkeypatch.setattr(artifacts, "logger", lambda: FakeLogger(warnings))
    tenant = unique("tiny")
    sync_env.source.store.add_tenant(tenant, {"contacts": 250, "deals": 0})
    job = run(sync_env, tenant, sync_size="small")
    assert job.status is JobStatus.COMPLETED and job.records_synced == 250
    assert artifacts_of(job, kinds=()) == {}
    assert len(warnings) == 3 and all("artifact API away" in w for w in warnings)


class FakeLogger:
    def __init__(self, sink: list[str]) -> None:
        self.sink = sink

    def warning(self, msg: str, *args: object) -> None:
        self.sink.append(msg % args)


# -- without a flow run: throttling, capping, escaping ---------------------------------------


def big_job(
    n: int,
    failed: Iterable[int] = (),
    completed: Iterable[int] = (),
    status: ChunkStatus = ChunkStatus.PENDING,
) -> Job:
    """``n`` chunks of one resource, in ``status`` unless listed as failed or completed."""
    bad, good = set(failed), set(completed)
    chunks = tuple(
        Chunk(
            index=i,
            resource="contacts",
            offset=(i - 1) * 100,
            limit=None if i == n else 100,
            status=ChunkStatus.FAILED
            if i in bad
            else ChunkStatus.COMPLETED
            if i in good
            else status,
            error="boom" if i in bad else None,
        )
        for i in range(1, n + 1)
    )
    return Job(
        id="job-1",
        tenant="big_co",
        sync_type="full",
        status=JobStatus.RUNNING,
        sync_size="small",
        chunk_size=100,
        created_at=datetime.now(UTC),
        chunks=chunks,
    )


def settled(total: int, **by_status: int) -> Job:
    """A settled job's counts, as ``finish`` reads them from the ledger."""
    counts = empty_counts()
    for name, n in by_status.items():
        counts[ChunkStatus(name)] = n
    counts[ChunkStatus.CANCELLED] += total - sum(counts.values())
    return replace(big_job(1), status=JobStatus.COMPLETED, counts=counts)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float]]:
    calls: list[tuple[str, float]] = []

    def fake(name: str) -> Callable[..., UUID]:
        def call(**kwargs: Any) -> UUID:
            calls.append((name, kwargs["progress"]))
            return uuid.uuid4()

        return call

    monkeypatch.setattr(artifacts, "create_progress_artifact", fake("create"))
    monkeypatch.setattr(artifacts, "update_progress_artifact", fake("update"))
    return calls


def test_progress_updates_are_throttled_with_a_final_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = record_calls(monkeypatch)
    clock = Clock()
    with ChunkProgress(big_job(10_000), clock=clock) as progress:
        assert progress.key == "jobsview-big-co-full-progress"
        for _ in range(10_000):
            clock.now += 0.001  # 10,000 chunks in 10 s
            progress.chunk_done(ChunkStatus.COMPLETED)
    progress.finish(settled(10_000, completed=10_000))
    assert calls[0] == ("create", 0.0)
    assert calls[-1] == ("update", 100.0)
    assert 9 <= len(calls) <= 12  # about one a second, not one a chunk
    values = [value for _, value in calls]
    assert values == sorted(values)


def test_progress_counts_chunks_already_done_and_stops_after_a_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = record_calls(monkeypatch)
    job = big_job(4, completed=(1, 2))
    clock = Clock()

    def down(**kwargs: Any) -> UUID:
        raise ConnectionError("down")

    with ChunkProgress(job, clock=clock) as progress:
        assert calls == [("create", 50.0)]
        monkeypatch.setattr(artifacts, "update_progress_artifact", down)
        clock.now = 5
        progress.chunk_done(ChunkStatus.FAILED)  # fails: no more updates for this run
        monkeypatch.setattr(artifacts, "update_progress_artifact", lambda **kw: calls.append(kw))
        clock.now = 10
        progress.chunk_done(ChunkStatus.COMPLETED)
    assert calls == [("create", 50.0)]
    assert progress.percent == 75.0
    assert progress.description() == "Job job-1: 3 of 4 chunks completed, 1 failed"


def test_large_tables_are_capped_failed_chunks_first() -> None:
    job = big_job(10_000, failed=(9_998, 42), status=ChunkStatus.COMPLETED)
    shown = table_chunks(job.chunks or ())
    assert len(shown) == artifacts.MAX_TABLE_ROWS
    assert [c.index for c in shown[:3]] == [42, 9_998, 1]
    assert [c.index for c in shown[-2:]] == [998, 999]
    finished = replace(job, status=JobStatus.INCOMPLETE)
    assert "showing 1,000 of 10,000 chunks, failed chunks first" in (
        artifacts.table_description(finished, len(shown))
    )
    small = table_chunks(big_job(5, failed=(3,)).chunks or ())
    assert [c.index for c in small] == [1, 2, 3, 4, 5]
    assert artifacts.chunk_row(shown[-1])["window"] == "99800-99899"
    assert artifacts.chunk_row((job.chunks or ())[-1])["window"] == "999900-"


def test_summary_markdown_caps_the_tree_and_keeps_hostile_text_inert() -> None:
    job = replace(
        big_job(2_000, failed=(7,)),
        status=JobStatus.FAILED,
        error="```</pre><script>alert(1)</script> | *x*",
        parent_id="parent-1",
    )
    markdown = summary_markdown(job, max_chunks=10)
    assert markdown.count("|- Chunk ") == 10
    assert "|- ... 1,990 more chunks" in markdown
    assert "````text\n" in markdown and markdown.rstrip().endswith("````")
    assert "<script>" not in markdown.split("## Chunks")[0]
    assert "\\<script\\>" in markdown and "- **Resumes job:** parent-1" in markdown


def test_progress_backs_off_while_the_api_is_slow(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    calls: list[float] = []

    def slow_update(**kwargs: Any) -> UUID:
        calls.append(clock.now)
        clock.now += 0.5  # each call takes half a second
        return uuid.uuid4()

    monkeypatch.setattr(artifacts, "create_progress_artifact", lambda **kw: uuid.uuid4())
    monkeypatch.setattr(artifacts, "update_progress_artifact", slow_update)
    with ChunkProgress(big_job(1_000), clock=clock) as progress:
        for _ in range(1_000):
            clock.now += 0.1  # 1,000 chunks in 100 s, plus the calls
            progress.chunk_done(ChunkStatus.COMPLETED)
    progress.finish(settled(1_000, completed=1_000))
    gaps = [b - a for a, b in itertools.pairwise(calls[:-1])]  # the last one is the final value
    assert gaps and min(gaps) >= 10  # 20 times the call, not once a second
    assert len(calls) <= 12 and progress.published is not None
    assert progress.published[0] == 100.0
