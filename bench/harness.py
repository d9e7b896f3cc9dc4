"""An in-process harness for the focused benchmarks (trust, pressure, scale, platform).

A demo source in its own process, a Prefect test server and a scratch folder; ``configure``
points this process's settings at a database and the source. The suite (``python -m bench``)
runs ``jobsview`` as its users do instead (``bench.services``).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.services import demo_source

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def configure(db: Path, source: str, **extra: object) -> None:
    from core.settings import get_settings

    os.environ.update(
        JOBSVIEW_DATABASE_URL=f"sqlite:///{db}",
        JOBSVIEW_SOURCE_URL=source,
        JOBSVIEW_RESOURCES="contacts",
        **{f"JOBSVIEW_{k.upper()}": str(v) for k, v in extra.items()},
    )
    get_settings.cache_clear()


@contextmanager
def bench_setup() -> Iterator[tuple[str, Path]]:
    """A demo source in its own process, a Prefect server, and a scratch folder."""
    from prefect.testing.utilities import prefect_test_harness

    with (
        demo_source(page_cap=None) as base,
        tempfile.TemporaryDirectory() as tmp,
        prefect_test_harness(server_startup_timeout=120),
    ):
        yield base, Path(tmp)


def save_result(name: str, result: Mapping[str, Any]) -> None:
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2))
