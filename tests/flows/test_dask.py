"""Chunks on a real Dask cluster (a scheduler and two worker processes), and API pressure
shared between those processes through the adaptive Prefect rate limit."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prefect import get_client
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL

from flows.pressure import rate_limit_name
from ledger import ChunkStatus, JobStatus
from tests.support import SyncEnv

pytest.importorskip("prefect_dask")
from distributed import Client

ROOT = Path(__file__).resolve().parents[2]
DASK = Path(sys.executable).with_name("dask")
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The workers' own environment names another database and an unreachable source: a chunk
# that read its settings there instead of taking the flow run's would fail.
WORKER_ENV = {
    "JOBSVIEW_DATABASE_URL": "sqlite:///not-this-tests.db",
    "JOBSVIEW_SOURCE_URL": "http://127.0.0.1:9",
}


@dataclass
class DaskCluster:
    address: str
    client: Client

    def assert_workers_have_other_settings(self) -> None:
        """Each worker's environment is still ``WORKER_ENV``, not this test's settings."""
        found = self.client.run(
            lambda: {k: v for k, v in os.environ.items() if k.startswith("JOBSVIEW_")}
        )
        assert len(found) == 2 and all(env == WORKER_ENV for env in found.values()), found


@pytest.fixture(scope="module")
def dask_cluster(
    prefect_server: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DaskCluster]:
    """``dask scheduler`` and two ``dask worker`` processes on loopback, for this module."""
    workdir = tmp_path_factory.mktemp("dask")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBSVIEW_")}
    env.update(WORKER_ENV, PREFECT_API_URL=str(PREFECT_API_URL.value()), PYTHONPATH=str(ROOT))
    address = f"tcp://127.0.0.1:{free_port()}"
    commands = {
        "scheduler": ["scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1]],
        **{
            f"worker-{n}": [
                "worker",
                address,
                "--name",
                f"worker-{n}",
                "--nthreads",
                "2",
                "--no-nanny",
                "--memory-limit",
                "0",
                "--host",
                "127.0.0.1",
                "--local-directory",
                str(workdir),
            ]
            for n in (1, 2)
        },
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name, args in commands.items():
            with open(workdir / f"{name}.log", "wb") as log:
                procs.append(
                    subprocess.Popen(
                        [str(DASK), *args, "--no-dashboard"],
                        cwd=workdir,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        with Client(address, timeout="60s") as client:
            try:
                client.wait_for_workers(2, timeout=90)
            except TimeoutError:
                pytest.fail(f"the Dask workers did not start: see the logs in {workdir}")
            yield DaskCluster(address, client)
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@SQLITE_ONLY
def test_chunks_run_on_two_dask_workers(sync_env: SyncEnv, dask_cluster: DaskCluster) -> None:
    """The flow run's settings travel with each chunk task: the workers' environment (see
    ``WORKER_ENV``) names another database and source, and plays no part."""
    sync_env.set(task_runner="dask", dask_address=dask_cluster.address)
    job = sync_env.sync(tenant="acme", sync_type="full", sync_size="small")
    assert job.status is JobStatus.COMPLETED and job.counts[ChunkStatus.COMPLETED] == 37
    workers = {chunk.worker for chunk in job.chunks or ()}
    assert len(workers) >= 2, workers
    assert f"{socket.gethostname()}:{os.getpid()}" not in workers  # not in this process
    sync_env.assert_destination_equals_source("acme")
    dask_cluster.assert_workers_have_other_settings()


@dataclass
class Run:
    records: int
    requests: int
    throttled: int
    seconds: float

    @property
    def per_record(self) -> float:
        return self.requests / self.records

    def __str__(self) -> str:
        return (
            f"{self.requests} requests ({self.throttled} of them 429) for {self.records} "
            f"records = {self.per_record:.4f}/record in {self.seconds:.1f}s"
        )


def timed_run(env: SyncEnv, cluster: DaskCluster, tenant: str, max_rps: float | None) -> Run:
    env.source.faults.max_rps = max_rps
    env.source.stats.reset()
    started = time.monotonic()
    job = env.sync(tenant=tenant, sync_type="full", sync_size="medium")
    seconds = time.monotonic() - started
    assert job.status is JobStatus.COMPLETED, job.error
    assert len({chunk.worker for chunk in job.chunks or ()}) >= 2
    env.assert_destination_equals_source(tenant, ("contacts",))
    cluster.assert_workers_have_other_settings()
    stats = env.source.stats
    return Run(job.records_synced, stats.total, stats.count(429), seconds)


@SQLITE_ONLY
def test_a_429_seen_by_one_worker_slows_them_all(
    sync_env: SyncEnv, dask_cluster: DaskCluster
) -> None:
    """Against a load limit, the shared adaptive limit keeps requests per record near the
    no-fault run; without it each worker only backs off by itself."""
    tenant = f"press-{uuid.uuid4().hex[:6]}"
    sync_env.source.store.add_tenant(tenant, {"contacts": 2_000})  # 4 chunks of 25 pages
    sync_env.source.faults.retry_after = 1.0
    sync_env.set(
        task_runner="dask",
        dask_address=dask_cluster.address,
        resources="contacts",
        page_size=20,
        source_rate_limit=40,
    )
    try:
        calm = timed_run(sync_env, dask_cluster, tenant, max_rps=None)
        shared = timed_run(sync_env, dask_cluster, tenant, max_rps=10)
        sync_env.set(source_rate_limit=0)
        alone = timed_run(sync_env, dask_cluster, tenant, max_rps=10)
    finally:
        with get_client(sync_client=True) as client, contextlib.suppress(ObjectNotFound):
            client.delete_global_concurrency_limit_by_name(rate_limit_name(tenant))
    print(f"\nno fault, shared limit:       {calm}")
    print(
        f"max_rps=10, shared limit:     {shared}  ratio {shared.per_record / calm.per_record:.2f}"
    )
    print(f"max_rps=10, no shared limit:  {alone}  ratio {alone.per_record / calm.per_record:.2f}")
    assert shared.throttled > 0  # the fault did bite
    assert shared.per_record <= 1.3 * calm.per_record
    # and the shared limit is what kept it there: alone, the workers hit the limit more
    assert shared.throttled < alone.throttled and shared.per_record < alone.per_record
