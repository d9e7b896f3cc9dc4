"""Fixtures for end-to-end tests: a Prefect server, the demo source, configured settings."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from connectors.destination import Destination, get_destination
from core.settings import Settings, load_settings
from demo.faults import DemoFaults
from demo.source import DemoSourceServer
from flows import resume_job, sync_job, use_settings
from ledger.store import Ledger, get_ledger


@dataclass
class SyncEnv:
    """A configured product: its settings, ledger and destination, and the demo source they
    sync from. Flows run with ``settings``; a CLI gets them as its ``environment()``."""

    db_url: str
    source: DemoSourceServer
    values: dict[str, object] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return load_settings(**self.values)

    def set(self, **values: object) -> None:
        """Change settings, as an operator would change ``JOBSVIEW_<NAME>`` variables."""
        self.values.update(values)

    def environment(self) -> dict[str, str]:
        """The ``JOBSVIEW_*`` variables of these settings, for a CLI run."""
        return self.settings.environment()

    @property
    def ledger(self) -> Ledger:
        return get_ledger(self.db_url)

    @property
    def destination(self) -> Destination:
        return get_destination(self.db_url)

    def sync(self, **kwargs: Any) -> Any:
        """``sync_job(**kwargs)`` with these settings."""
        with use_settings(self.settings):
            return sync_job(**kwargs)

    def resume(self, job_id: str, **kwargs: Any) -> Any:
        """``resume_job(job_id, **kwargs)`` with these settings."""
        with use_settings(self.settings):
            return resume_job(job_id, **kwargs)

    def sync_in_thread(self, **kwargs: Any) -> tuple[threading.Thread, dict[str, Any]]:
        """``sync(**kwargs)`` on a thread; its final state lands in ``box["state"]``."""
        box: dict[str, Any] = {}
        settings = self.settings

        def target() -> None:
            with use_settings(settings):
                box["state"] = sync_job(return_state=True, **kwargs)

        thread = threading.Thread(target=target)
        thread.start()
        return thread, box

    def assert_destination_equals_source(
        self, tenant: str, resources: tuple[str, ...] = ("contacts", "deals")
    ) -> None:
        assert_destination_equals_source(self.source, self.destination, tenant, resources)


def assert_destination_equals_source(
    source: DemoSourceServer,
    destination: Destination,
    tenant: str,
    resources: tuple[str, ...] = ("contacts", "deals"),
) -> None:
    """Every record of the source is stored, exactly as served, and nothing else."""
    for resource in resources:
        expected = {str(r["id"]): r for r in source.store.records(tenant, resource)}
        stored = destination.read(tenant, resource)
        assert stored.keys() == expected.keys(), f"{tenant}/{resource} ids differ"
        assert stored == expected, f"{tenant}/{resource} payloads differ"


@pytest.fixture
def demo_source() -> Iterator[DemoSourceServer]:
    with DemoSourceServer(faults=DemoFaults(seed=7)) as server:
        yield server


@pytest.fixture
def sync_env(db_url: str, demo_source: DemoSourceServer, tmp_path: Path) -> SyncEnv:
    env = SyncEnv(db_url, demo_source)
    env.set(
        database_url=db_url,
        source_url=demo_source.url,
        chunk_retry_delay_seconds=0,
        stale_after_seconds=4,
    )
    return env
