"""The suite's table, its profile of a chunk, and ``RESULTS.md``."""

from __future__ import annotations

import os
import platform
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Result = dict[str, Any]


def met(result: Result) -> bool | None:
    target = result.get("target")
    if target is None:
        return None
    if result.get("at_least"):
        return bool(result["value"] >= target)
    return bool(result["value"] <= target)


def _number(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:,.3f} s" if unit == "s" else f"{value:,.1f} {unit}"


def rows(results: list[Result]) -> list[list[str]]:
    shown = []
    for r in results:
        target = r.get("target")
        bound = "≥" if r.get("at_least") else "≤"
        verdict = {True: "met", False: "NOT met", None: ""}[met(r)]
        shown.append(
            [
                r["measure"],
                r["backend"],
                _number(r["value"], r["unit"]),
                "" if target is None else f"{bound} {_number(target, r['unit'])}",
                verdict,
                r.get("detail", ""),
            ]
        )
    return shown


HEADER = ["measure", "database", "value", "target", "", "detail"]


def table(results: list[Result]) -> str:
    """A Markdown table: readable in a terminal as it is in RESULTS.md."""
    lines = [HEADER, ["---"] * len(HEADER), *rows(results)]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def _machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    from importlib.metadata import version

    return (
        f"{platform.platform()}, {os.cpu_count()} CPUs, {memory:.0f} GiB, "
        f"Python {platform.python_version()}, prefect {version('prefect')}, "
        f"sqlalchemy {version('sqlalchemy')}, SQLite {__import__('sqlite3').sqlite_version}"
    )


def write_results(path: Path, results: list[Result], profile: str, argv: list[str]) -> None:
    command = "python -m bench " + shlex.join(argv[1:])
    missed = [r for r in results if met(r) is False]
    text = [
        "# Benchmark results",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {_machine()}",
        f"- Command: `{command.strip()}`",
        f"- Targets missed: {len(missed)} of {sum(met(r) is not None for r in results)}",
        "",
        "Ratios compare measures taken side by side in this run. The least work is plain httpx"
        " reading the same pages at the same concurrency, and a plain driver `executemany`"
        " upsert of the same rows (`bench/least_work.py`).",
        "",
        table(results),
        "",
    ]
    if profile:
        text += [
            "## Where a chunk's time goes",
            "",
            "The plain chunk work (no Prefect), one chunk at a time, profiled in this run:",
            "",
            "```",
            profile.strip(),
            "```",
            "",
            "Profiles of the whole command and of the Prefect server are in"
            " [PROFILES.md](PROFILES.md).",
            "",
        ]
    path.write_text("\n".join(text))


def profile_chunks(base: str, records: int) -> str:
    """pyinstrument's view of ``records`` records' chunks run by plain calls."""
    from pyinstrument import Profiler

    from bench.throughput import plain_chunks

    profiler = Profiler()
    profiler.start()
    plain_chunks(base, f"t{records}", records // 500, sync_size="medium")
    profiler.stop()
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    # Its header names this machine's paths: the tree alone is kept.
    lines = [line for line in text.splitlines()[5:60] if line.strip()]
    return "\n".join(line for line in lines if not line.startswith("Profile at"))
