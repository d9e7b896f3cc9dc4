"""An in-process harness for the focused benchmarks (trust, pressure, scale, platform).

A demo source in its own process, a Prefect test server and a scratch folder; ``configure``
gives the settings of a run on a database and the source, for ``flows.use_settings``. The
suite (``python -m bench``) runs ``jobsview`` as its users do instead (``bench.services``).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.services import demo_source

if TYPE_CHECKING:
    from core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def configure(db: Path, source: str, **extra: object) -> Settings:
    from core.settings import load_settings

    return load_settings(
        database_url=f"sqlite:///{db}", source_url=source, resources="contacts", **extra
    )


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
