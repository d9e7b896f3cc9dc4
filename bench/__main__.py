"""The benchmark suite: ``python -m bench`` prints one table and writes ``bench/RESULTS.md``.

Everything it compares is measured side by side in this one run, on this machine: the
machines are shared and noisy, so ratios are quoted, not absolute times.

    python -m bench                 # 50k and 500k records, 10k jobs and 1M chunks (~15 min)
    python -m bench --quick         # 5k and 20k records, a small ledger (a smoke run)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench.report import Result, profile_chunks, table, write_results
from bench.services import add_tenant, demo_source, env_for, jobsview, prefect_server


def _warm(base: str, api: str | None, home: Path) -> None:
    """One small run per Prefect home, so that no measure pays its migrations."""
    add_tenant(base, "warmup", 1000)
    with tempfile.TemporaryDirectory() as tmp:
        env = env_for(f"sqlite:///{tmp}/warm.db", base, api, home)
        jobsview(["run", "--tenant", "warmup", "--type", "full"], env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--only", choices=("sync", "views"), help="run one half of the suite and skip the other"
    )
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).with_name("RESULTS.md"), help="where to write"
    )
    args = parser.parse_args(argv)
    sizes = (5_000, 20_000) if args.quick else (50_000, 500_000)
    results: list[Result] = []
    profile = ""
    if args.only != "views":
        from bench.throughput import overhead, throughput

        with (
            tempfile.TemporaryDirectory(prefix="jobsview-bench-") as tmp,
            demo_source() as base,
            prefect_server(Path(tmp, "server")) as api,
        ):
            homes = (Path(tmp, "server-client"), Path(tmp, "embedded"))
            _warm(base, api, homes[0])
            _warm(base, None, homes[1])
            results += throughput(base, api, homes, sizes)
            results.append(overhead(base, api, homes[0], chunks=50 if args.quick else 200))
            profile = profile_chunks(base, sizes[0])
    if args.only != "sync":
        from bench.views_bench import run as views

        results += views(quick=args.quick)
    print(table(results))
    write_results(args.output, results, profile, sys.argv)
    print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
