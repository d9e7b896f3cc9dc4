from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger import Ledger, get_ledger
from tests.databases import database


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A real ledger, on SQLite only: for tests of a task's logic, not of the databases."""
    with database("sqlite", tmp_path) as url:
        yield get_ledger(url)
