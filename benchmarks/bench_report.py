"""Report benchmark: `tracker report` on the benchmark warehouse (goal: <= 20 s, <= 2 GiB peak RSS).

Build the warehouse first with bench_ingest.py. Prints wall time, peak RSS of the report process
and the sizes of trends.json and index.html.

    .venv/bin/python benchmarks/bench_report.py [--db benchmarks/out/bench.duckdb] [--out benchmarks/out/report]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="benchmarks/out/bench.duckdb", help="file or ducklake:")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/report"))
    parser.add_argument("--as-of", default="2026-11-25")
    args = parser.parse_args()
    if not args.db.startswith("ducklake:") and not Path(args.db).exists():
        sys.exit(f"{args.db} does not exist: run benchmarks/bench_ingest.py first")
    exe = shutil.which("tracker", path=str(Path(sys.executable).parent)) or "tracker"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [exe, "report", "--db", args.db, "--out", str(args.out), "--as-of", args.as_of],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        sys.exit(f"tracker report failed ({proc.returncode}): {proc.stderr.strip()}")
    peak_gib = peak_kib / 2**20
    print(
        f"tracker report: {wall:.1f}s wall, peak RSS {peak_gib:.2f} GiB "
        f"(goals <= 20 s: {'ok' if wall <= 20 else 'MISSED'}, <= 2 GiB: {'ok' if peak_gib <= 2 else 'MISSED'})"
    )
    for name in ("index.html", "summary.md", "trends.json"):
        path = args.out / name
        if path.exists():
            print(f"  {name}: {os.path.getsize(path) / 2**10:,.0f} KiB")
        else:
            print(f"  {name}: missing")


if __name__ == "__main__":
    main()
