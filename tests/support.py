"""Fixtures for end-to-end tests: a Prefect server, the demo source, configured settings."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connectors.destination import Destination, get_destination
from core.settings import get_settings
from demo.faults import DemoFaults
from demo.source import DemoSourceServer
from flows import sync_job
from ledger.store import Ledger, get_ledger


@dataclass
class SyncEnv:
    """A configured product: ledger and destination, and the demo source they sync from."""

    db_url: str
    source: DemoSourceServer
    monkeypatch: pytest.MonkeyPatch

    @property
    def ledger(self) -> Ledger:
        return get_ledger(self.db_url)

    @property
    def destination(self) -> Destination:
        return get_destination(self.db_url)

    def set(self, **values: object) -> None:
        """Set ``JOBSVIEW_<NAME>`` variables, as an operator would."""
        for name, value in values.items():
            self.monkeypatch.setenv(f"JOBSVIEW_{name.upper()}", str(value))
        get_settings.cache_clear()

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


def run_in_thread(**kwargs: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """``sync_job(**kwargs)`` on a thread; its final state lands in ``box["state"]``."""
    box: dict[str, Any] = {}

    def target() -> None:
        box["state"] = sync_job(return_state=True, **kwargs)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, box


@pytest.fixture
def demo_source() -> Iterator[DemoSourceServer]:
    with DemoSourceServer(faults=DemoFaults(seed=7)) as server:
        yield server


@pytest.fixture
def sync_env(
    db_url: str, demo_source: DemoSourceServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> SyncEnv:
    env = SyncEnv(db_url, demo_source, monkeypatch)
    env.set(
        database_url=db_url,
        source_url=demo_source.url,
        chunk_retry_delay_seconds=0,
        stale_after_seconds=4,
    )
    return env
