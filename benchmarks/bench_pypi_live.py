"""Live PyPI benchmark: `tracker collect --source pypi` for the whole catalog against pypi.org.

Needs the network (PyPI only). Prints wall time, requests, rows, and a second (re-)run.

    .venv/bin/python benchmarks/bench_pypi_live.py [--db benchmarks/out/live.duckdb]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("benchmarks/out/live.duckdb"))
    args = parser.parse_args()
    args.db.parent.mkdir(parents=True, exist_ok=True)
    args.db.unlink(missing_ok=True)
    exe = shutil.which("tracker", path=str(Path(sys.executable).parent)) or "tracker"
    for label in ("first run", "second run"):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [exe, "collect", "--source", "pypi", "--db", str(args.db), "--json"],
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t0
        doc = json.loads(proc.stdout)
        src = doc["sources"][0]
        print(
            f"{label}: {wall:.1f}s wall, exit {proc.returncode}, {src['tools_ok']} tools ok, "
            f"{src['tools_failed']} failed, {src['requests']} requests, {src['rows_written']:,} rows upserted"
        )


if __name__ == "__main__":
    main()
