"""The sync job end to end: a real demo source, a real Prefect server, SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import StateType

from core import ConfigError, InvalidInputError, JobFailedError, JobIncompleteError
from demo.faults import MalformedRule
from flows import sync_job
from ledger import ChunkStatus, Job, JobStatus, render_tree
from tests.support import SyncEnv


def run(
    env: SyncEnv, tenant: str = "acme", sync_type: str = "full", sync_size: str | None = None
) -> Job:
    """Run the flow as an engineer would, returning the job whatever its outcome."""
    state = env.sync(tenant=tenant, sync_type=sync_type, sync_size=sync_size, return_state=True)
    result = state.result(raise_on_failure=False)
    return result.job if hasattr(result, "job") else result


def test_full_sync_copies_the_source_exactly(sync_env: SyncEnv) -> None:
    job = sync_env.sync(tenant="acme", sync_type="full", sync_size="small")
    assert isinstance(job, Job) and job.status is JobStatus.COMPLETED
    assert job.total_chunks == 25 + 12 and job.counts[ChunkStatus.COMPLETED] == 37
    assert job.records_synced == 3_700
    sync_env.assert_destination_equals_source("acme")
    assert sync_env.destination.count("acme") == 3_700
    # a second full sync upserts: still no duplicates
    assert run(sync_env, sync_size="medium").status is JobStatus.COMPLETED
    assert sync_env.destination.count("acme") == 3_700


def test_partial_sync_writes_only_changes(sync_env: SyncEnv) -> None:
    first = run(sync_env, sync_type="partial")
    assert first.status is JobStatus.COMPLETED and first.ran_as_full
    assert first.records_synced == 3_700
    sync_env.source.store.change("acme", "contacts", update=30, insert=20)
    sync_env.source.store.change("acme", "deals", update=5)
    second = run(sync_env, sync_type="partial")
    assert second.status is JobStatus.COMPLETED and not second.ran_as_full
    assert second.records_synced == 55
    sync_env.assert_destination_equals_source("acme")
    # within the watermark's safety lag, changes are synced again (upserts: harmless)
    assert run(sync_env, sync_type="partial").records_synced == 55
    # with no lag and nothing changed since, a partial plans no chunks and completes
    sync_env.set(watermark_lag_seconds=0)
    watermark = min(sync_env.ledger.watermarks("acme").values())
    third = run(sync_env, sync_type="partial")
    assert third.status is JobStatus.COMPLETED and third.total_chunks == 0
    # and it says why it synced nothing, and since when
    assert third.since == watermark and third.to_dict()["since"] == watermark.isoformat()
    assert (
        f"nothing changed since the watermark ({watermark:%Y-%m-%d %H:%M} UTC): no chunks to sync"
        " · 0 records"
    ) in render_tree(third)
    sync_env.assert_destination_equals_source("acme")


def test_awkward_data_and_page_caps(sync_env: SyncEnv) -> None:
    sync_env.source.faults.page_cap = 37  # below JOBSVIEW_PAGE_SIZE
    sync_env.set(page_size=100)
    for tenant in ("globex", "initech"):  # string ids with unicode; integer ids with gaps
        job = run(sync_env, tenant=tenant, sync_size="small")
        assert job.status is JobStatus.COMPLETED, job.error
        sync_env.assert_destination_equals_source(tenant)
    assert sync_env.destination.count("acme") == 0  # tenants stay apart
    notes = {r["note"] for r in sync_env.destination.read("initech", "contacts").values()}
    assert any("DROP TABLE" in n for n in notes) and any("<script>" in n for n in notes)


def test_empty_resource_one_chunk_and_many_chunks(sync_env: SyncEnv) -> None:
    sync_env.source.store.add_tenant("tiny", {"contacts": 40, "deals": 0})
    job = run(sync_env, tenant="tiny")
    assert job.status is JobStatus.COMPLETED
    assert [(c.resource, c.offset, c.limit) for c in job.chunks or ()] == [("contacts", 0, None)]
    sync_env.assert_destination_equals_source("tiny")


def test_prefect_names_tags_and_states(sync_env: SyncEnv) -> None:
    job = run(sync_env, tenant="globex", sync_size="small")
    assert job.flow_run_id
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(job.flow_run_id)  # type: ignore[arg-type]
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id]))
        )
    assert re.fullmatch(r"globex-full-\d{8}T\d{6}Z", flow_run.name)
    assert {"tenant:globex", "sync-type:full"} <= set(flow_run.tags)
    assert flow_run.state_type is StateType.COMPLETED
    names = sorted(t.name for t in task_runs)
    assert names == sorted(["plan-job", *(f"chunk-{n}-of-3" for n in (1, 2, 3))])
    # every task run, plan-job included, carries the job's tags
    assert all({"tenant:globex", "sync-type:full"} <= set(t.tags) for t in task_runs)


def test_a_resume_is_a_sync_job_run_named_and_tagged_like_the_rest(sync_env: SyncEnv) -> None:
    sync_env.set(chunk_retries=0)
    sync_env.source.faults.malformed = [MalformedRule(resource="contacts", offset=99, times=1)]
    first = run(sync_env, tenant="globex", sync_size="small")
    assert first.status is JobStatus.INCOMPLETE
    resumed = sync_env.resume(first.id)
    assert resumed.status is JobStatus.COMPLETED and resumed.parent_id == first.id
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(resumed.flow_run_id)  # type: ignore[arg-type]
        flow = client.read_flow(flow_run.flow_id)
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id]))
        )
    assert flow.name == "sync-job"
    assert re.fullmatch(r"globex-full-\d{8}T\d{6}Z", flow_run.name)
    wanted = {"tenant:globex", "sync-type:full", f"resume-of:{first.id}"}
    assert wanted <= set(flow_run.tags)
    assert sorted(t.name for t in task_runs) == ["chunk-2-of-3", "plan-job"]
    assert all(wanted <= set(t.tags) for t in task_runs)
    # a resume of another tenant's job is refused before any flow run
    with pytest.raises(InvalidInputError, match="resume it with its own tenant"):
        sync_env.sync(tenant="acme", sync_type="full", resume_of=first.id)


def test_the_source_token_can_come_from_a_prefect_secret_block(sync_env: SyncEnv) -> None:
    from prefect.blocks.system import Secret

    sync_env.source.faults.token = "from-the-block"
    Secret(value="from-the-block").save("jobsview-test-token", overwrite=True)
    sync_env.set(source_token_block="jobsview-test-token")
    job = run(sync_env, tenant="globex", sync_size="small")
    assert job.status is JobStatus.COMPLETED, job.error
    sync_env.set(source_token_block="no-such-block")
    with pytest.raises(ConfigError, match="Prefect Secret block 'no-such-block'"):
        run(sync_env, tenant="globex")
    assert all("from-the-block" not in (j.error or "") for j in sync_env.ledger.list_jobs())


def test_malformed_page_fails_that_chunk_and_the_job_is_incomplete(sync_env: SyncEnv) -> None:
    sync_env.set(chunk_retries=1)
    sync_env.source.faults.malformed = [
        MalformedRule(resource="contacts", offset=400, kind="missing-items")  # chunk 2
    ]
    with pytest.raises(JobIncompleteError) as info:
        sync_env.sync(tenant="acme", sync_type="full", sync_size="medium")
    job = info.value.job
    assert job.status is JobStatus.INCOMPLETE and "jobsview resume" in str(info.value)
    failed = [c for c in job.chunks if c.status is ChunkStatus.FAILED]
    assert [c.index for c in failed] == [2]
    assert failed[0].attempts == 2
    assert "contacts" in failed[0].error and "offset=400" in failed[0].error
    assert job.counts[ChunkStatus.COMPLETED] == job.total_chunks - 1
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(job.flow_run_id).state
    assert state is not None and (state.type, state.name) == (StateType.FAILED, "Incomplete")


def test_unknown_tenant_fails_fast(sync_env: SyncEnv) -> None:
    job = run(sync_env, tenant="nosuchtenant")
    assert job.status is JobStatus.FAILED and job.total_chunks == 0
    assert "unknown tenant or resource" in (job.error or "")
    assert sync_env.source.stats.total <= 2


def test_wrong_token_fails_saying_authentication(sync_env: SyncEnv) -> None:
    sync_env.source.faults.token = "right-token"
    sync_env.set(source_token="wrong-token")
    with pytest.raises(JobFailedError) as info:
        sync_env.sync(tenant="acme", sync_type="full")
    job = info.value.job
    assert job.status is JobStatus.FAILED and "authentication" in (job.error or "")
    assert "wrong-token" not in str(info.value) and "wrong-token" not in (job.error or "")
    assert sync_env.source.stats.total <= 3


def test_token_revoked_mid_run_stops_the_job_at_once(sync_env: SyncEnv) -> None:
    sync_env.set(max_concurrent_chunks=1, source_token="t0k")
    sync_env.source.faults.token = "t0k"
    sync_env.source.faults.malformed = []
    original = sync_env.source.store.page

    def revoke_after_some(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if sync_env.source.stats.total > 12:
            sync_env.source.faults.token = "rotated"
        return original(*args, **kwargs)

    sync_env.source.store.page = revoke_after_some  # type: ignore[method-assign]
    job = run(sync_env, sync_size="small")
    assert job.status is JobStatus.FAILED and "authentication" in (job.error or "")
    assert job.counts[ChunkStatus.FAILED] == 1
    # the rest never started
    assert (
        job.counts[ChunkStatus.CANCELLED]
        == job.total_chunks - job.counts[ChunkStatus.COMPLETED] - 1
    )
    assert sync_env.source.stats.total < 20  # no retry storm


def test_invalid_input_creates_no_job(sync_env: SyncEnv) -> None:
    with pytest.raises(InvalidInputError):
        sync_env.sync(tenant="Bad Tenant!", sync_type="full")
    with pytest.raises(Exception, match="small"):
        sync_env.sync(tenant="acme", sync_type="full", sync_size="huge")
    with pytest.raises(Exception, match="partial"):
        sync_env.sync(tenant="acme", sync_type="delta")
    assert sync_env.ledger.list_jobs() == []
    # with_options keeps the claim before the flow run
    assert type(sync_job.with_options(retries=0)) is type(sync_job)


def test_unreachable_source_is_a_clear_error(sync_env: SyncEnv) -> None:
    sync_env.set(source_url="http://127.0.0.1:9")
    job = run(sync_env)
    assert job.status is JobStatus.FAILED
    assert "cannot reach the source" in (job.error or "") and "JOBSVIEW_SOURCE_URL" in (
        job.error or ""
    )


def test_a_run_takes_its_callers_settings_else_the_environments(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment run has no caller in its process: it reads the environment. A caller's
    settings (``use_settings``) win over the environment."""
    sync_env.set(resources=("contacts", "deals"))
    for name, value in sync_env.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("JOBSVIEW_RESOURCES", "contacts")
    from_env = sync_job(tenant="globex", sync_type="full", sync_size="small")
    assert from_env.status is JobStatus.COMPLETED
    assert from_env.resources == ("contacts",)
    from_caller = sync_env.sync(tenant="globex", sync_type="full", sync_size="small")
    assert from_caller.status is JobStatus.COMPLETED
    assert from_caller.resources == ("contacts", "deals")
    assert [j.id for j in sync_env.ledger.list_jobs()] == [from_caller.id, from_env.id]
    sync_env.assert_destination_equals_source("globex")
