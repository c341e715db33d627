"""Live PyPI benchmark: `tracker collect --source pypi` against a bare httpx fetch-and-parse.

Needs the network (PyPI only). Each round times two whole processes on the same packages (the
bundled catalog's by default): `tracker collect --source pypi --json` into a fresh DuckDB file,
and a bare script that fetches the same `/pypi/<name>/json` documents with httpx, 8 at a time
(tracker's default concurrency), and reads each version's earliest upload time. It prints both
medians over the rounds and their ratio (issue 15 asks for <= 1.5x), then a second tracker run
on the last file (conditional requests).

    .venv/bin/python benchmarks/bench_pypi_live.py [--rounds 3] [--db benchmarks/out/live.duckdb]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

# The baseline: no tracker import, only what any script needs to fetch and parse the documents.
BARE = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
import httpx

def one(client, name):
    doc = json.loads(client.get(f"/pypi/{name}/json").content)
    return {v: min((f["upload_time_iso_8601"] for f in fs), default=None)
            for v, fs in doc["releases"].items()}

with httpx.Client(base_url=sys.argv[1], timeout=30, headers={"Accept": "application/json"}) as c:
    with ThreadPoolExecutor(max_workers=int(sys.argv[2])) as pool:
        versions = sum(len(r) for r in pool.map(lambda n: one(c, n), sys.argv[3:]))
print(versions)
"""


def catalog_packages() -> list[str]:
    """Return the PEP 503 names of the bundled catalog's trackable PyPI packages."""
    from tracker.catalog import load_catalog
    from tracker.collectors._packages import normalize

    tools = [t for t in load_catalog().tools if t.trackable and t.pypi]
    return list(dict.fromkeys(normalize(p) for t in tools for p in t.pypi))


def run_tracker(exe: str, base: str, db: Path, label: str) -> float:
    """Run one `tracker collect --source pypi`; print its summary line, return its wall time."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [exe, "collect", "--source", "pypi", "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "TRACKER_PYPI_URL": base},
    )
    wall = time.perf_counter() - t0
    src = json.loads(proc.stdout)["sources"][0]
    print(
        f"{label}: {wall:.2f}s wall, exit {proc.returncode}, {src['tools_ok']} tools ok, "
        f"{src['tools_failed']} failed, {src['requests']} requests, "
        f"{src['rows_written']:,} rows upserted"
    )
    return wall


def run_bare(base: str, packages: list[str], workers: int, label: str) -> float:
    """Run the bare fetch-and-parse as its own process; return its wall time."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", BARE, base, str(workers), *packages],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - t0
    print(f"{label}: {wall:.2f}s wall, {len(packages)} requests, {proc.stdout.strip()} versions")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("benchmarks/out/live.duckdb"))
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both (median taken)")
    parser.add_argument("--base", default="https://pypi.org", help="PyPI base URL")
    parser.add_argument("--workers", type=int, default=8, help="bare script's concurrency")
    args = parser.parse_args()
    args.db.parent.mkdir(parents=True, exist_ok=True)
    exe = shutil.which("tracker", path=str(Path(sys.executable).parent)) or "tracker"
    packages = catalog_packages()
    print(f"{len(packages)} packages from the bundled catalog, {args.rounds} round(s)")
    tracker_walls, bare_walls = [], []
    for n in range(1, args.rounds + 1):
        args.db.unlink(missing_ok=True)  # a first run every round: no conditional requests
        bare_walls.append(run_bare(args.base, packages, args.workers, f"round {n} bare"))
        tracker_walls.append(run_tracker(exe, args.base, args.db, f"round {n} tracker"))
    run_tracker(exe, args.base, args.db, "second run (conditional requests)")
    tracker_median = statistics.median(tracker_walls)
    bare_median = statistics.median(bare_walls)
    print(
        f"median: tracker {tracker_median:.2f}s, bare {bare_median:.2f}s, "
        f"ratio {tracker_median / bare_median:.2f}x (target <= 1.5x)"
    )


if __name__ == "__main__":
    main()
