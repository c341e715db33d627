"""Lake benchmark: bench_ingest.py and bench_report.py on a DuckDB file and on a DuckLake with a
PostgreSQL catalog, same data, printed side by side with ratios (goals: lake ingest >= 0.5x the
file's rows/s, lake `report` <= 2x the file's time).

Run it with the lake install (DuckDB 1.5 + extensions); the file side runs with ``--file-python``
(default: this interpreter; pass .venv/bin/python for the base install's DuckDB 2):

    .venv-lake/bin/python benchmarks/bench_lake.py [--tools 5000] [--years 10]
        [--file-python .venv/bin/python] [--pg 'host=/tmp/... user=postgres']

Without --pg (or TRACKER_TEST_PG) a throwaway PostgreSQL is started (scripts/pg-throwaway.sh)
and stopped afterwards. After the ingest, the lake gets its recommended maintenance
(``ducklake_merge_adjacent_files``: each transaction leaves small files), timed
separately, before the report runs.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _run(cmd: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd[:3])} ... failed ({done.returncode}):\n{done.stderr[-3000:]}")
    print(done.stdout.rstrip())
    return done.stdout


def _rate(out: str) -> float:
    m = re.search(r"= ([\d,]+) rows/s", out)
    assert m, out
    return float(m.group(1).replace(",", ""))


def _report_seconds(out: str) -> float:
    m = re.search(r"tracker report: ([\d.]+)s wall", out)
    assert m, out
    return float(m.group(1))


def _star_seconds(out: str) -> float:
    m = re.search(r"releases: [\d,]+ rows in ([\d.]+)s", out)
    return float(m.group(1)) if m else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", type=int, default=5000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--file-python", default=sys.executable)
    parser.add_argument("--pg", default=os.environ.get("TRACKER_TEST_PG"))
    parser.add_argument("--work", type=Path, default=HERE / "out" / "lake")
    parser.add_argument(
        "--history-tools",
        type=int,
        default=None,
        help="star weeks and releases for the first N tools only (their transactions are "
        "the slow part of building the lake; downloads always cover every tool)",
    )
    args = parser.parse_args()

    pg_dir = None
    if not args.pg:
        started = subprocess.run(
            ["bash", str(ROOT / "scripts" / "pg-throwaway.sh"), "start"],
            capture_output=True,
            text=True,
            check=True,
        )
        values = dict(
            line.removeprefix("export ").split("=", 1) for line in started.stdout.splitlines()
        )
        args.pg = values["TRACKER_TEST_PG"].strip("'")
        pg_dir = values["TRACKER_TEST_PG_DIR"].strip("'")
    dbname = "bench_" + uuid.uuid4().hex[:8]
    subprocess.run(
        ["psql", "-X", "-q", "-c", f"CREATE DATABASE {dbname}", f"{args.pg} dbname=postgres"],
        check=True,
    )
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    file_db = args.work / "bench.duckdb"
    lake = f"ducklake:postgres:{args.pg} dbname={dbname}"
    env = dict(os.environ, TRACKER_DATA_PATH=str(args.work / "lake-data"))
    size = ["--tools", str(args.tools), "--years", str(args.years)]
    if args.history_tools is not None:
        size += ["--history-tools", str(args.history_tools)]
    try:
        print(f"== file ({args.file_python})")
        file_out = _run(
            [args.file_python, str(HERE / "bench_ingest.py"), *size, "--out", str(file_db)]
        )
        print("== lake (PostgreSQL catalog, Parquet data)")
        lake_out = _run([sys.executable, str(HERE / "bench_ingest.py"), *size, "--db", lake], env)
        t0 = time.perf_counter()
        _run(
            [
                sys.executable,
                "-c",
                "import sys; from tracker.config import load_settings;"
                " from tracker.warehouse.db import open_target;"
                " con = open_target(load_settings(db=sys.argv[1]).db_target);"
                " con.execute(\"CALL ducklake_merge_adjacent_files('tracker_lake')\");"
                " con.close()",
                lake,
            ],
            env,
        )
        merge = time.perf_counter() - t0
        data_mib = sum(p.stat().st_size for p in (args.work / "lake-data").rglob("*")) / 2**20
        print(
            f"lake maintenance (merge adjacent files): {merge:.1f}s; Parquet: {data_mib:,.0f} MiB"
        )
        file_exe = str(Path(args.file_python).parent / "python")
        print("== report")
        file_rep = _run(
            [
                file_exe,
                str(HERE / "bench_report.py"),
                "--db",
                str(file_db),
                "--out",
                str(args.work / "rep-file"),
            ]
        )
        lake_rep = _run(
            [
                sys.executable,
                str(HERE / "bench_report.py"),
                "--db",
                lake,
                "--out",
                str(args.work / "rep-lake"),
            ],
            env,
        )
    finally:
        subprocess.run(
            [
                "psql",
                "-X",
                "-q",
                "-c",
                f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)",
                f"{args.pg} dbname=postgres",
            ],
            check=False,
        )
        if pg_dir:
            subprocess.run(
                ["bash", str(ROOT / "scripts" / "pg-throwaway.sh"), "stop", pg_dir], check=False
            )
    ingest = _rate(lake_out) / _rate(file_out)
    report = _report_seconds(lake_rep) / _report_seconds(file_rep)
    print("== ratios (lake / file)")
    print(
        f"downloads ingest: {_rate(lake_out):,.0f} vs {_rate(file_out):,.0f} rows/s = {ingest:.2f}x "
        f"(goal >= 0.5x: {'ok' if ingest >= 0.5 else 'MISSED'})"
    )
    print(
        f"grouped batches (stars + releases): {_star_seconds(lake_out):.1f}s vs "
        f"{_star_seconds(file_out):.1f}s = {_star_seconds(lake_out) / _star_seconds(file_out):.2f}x time"
    )
    print(
        f"tracker report: {_report_seconds(lake_rep):.1f}s vs {_report_seconds(file_rep):.1f}s = "
        f"{report:.2f}x (goal <= 2x: {'ok' if report <= 2 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
