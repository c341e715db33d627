"""Ingest benchmark: 5,000 packages x 10 years of daily downloads (~18M rows) into DuckDB.

Builds the benchmark warehouse used by bench_report.py (synthetic, seeded data: this measures
the store, not the collectors) and prints rows/s of the bulk upsert path (Arrow -> DuckDB,
ON CONFLICT on the primary key). Goal: >= 1,000,000 rows/s.

    .venv/bin/python benchmarks/bench_ingest.py [--tools 5000] [--years 10] [--out benchmarks/out/bench.duckdb]

``--db ducklake:...`` writes into an (empty) DuckLake instead of a fresh file (see bench_lake.py).
"""

from __future__ import annotations

import argparse
import math
import random
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tracker.catalog import Catalog, Tool
from tracker.config import load_settings
from tracker.records import ReleaseRecord, StarWeekRecord, ToolBatch
from tracker.source_run import GROUP_TOOLS
from tracker.warehouse import Store
from tracker.warehouse.db import write_session

SKILLS = {
    "infrastructure": "Infrastructure",
    "monitoring": "Monitoring",
    "logs": "Logs",
    "orchestration": "Orchestration",
    "data-processing": "Data processing",
    "cloud-sdk": "Cloud SDKs",
    "mlops": "MLOps",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", type=int, default=5000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=250, help="packages per bulk write")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/bench.duckdb"))
    parser.add_argument("--end", default="2026-11-24", help="last day of data (YYYY-MM-DD)")
    parser.add_argument("--db", help="a ducklake: target instead of --out (must be empty)")
    parser.add_argument(
        "--history-tools",
        type=int,
        default=None,
        help="star weeks and releases for the first N tools only (default: every tool)",
    )
    args = parser.parse_args()

    rng = random.Random(42)
    end = date.fromisoformat(args.end)
    start = end - timedelta(days=365 * args.years - 1)
    days = [start + timedelta(days=i) for i in range(365 * args.years)]
    skills = list(SKILLS)
    tools = tuple(
        Tool(
            id=f"bench-{i:05d}",
            name=f"Bench tool {i}",
            skill=skills[i % len(skills)],
            github=f"bench/tool-{i}",
            pypi=(f"bench-pkg-{i}",),
        )
        for i in range(args.tools)
    )
    target = load_settings(db=args.db or args.out).db_target
    if not args.db:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", ".wal"):
            Path(str(args.out) + suffix).unlink(missing_ok=True)

    with write_session(target) as con:
        store = Store(con)
        store.refresh_tools(Catalog(skills=SKILLS, tools=tools))

        total_rows = 0
        write_seconds = 0.0
        gen_seconds = 0.0
        for first in range(0, len(tools), args.chunk):
            t0 = time.perf_counter()
            tool_ids: list[str] = []
            packages: list[str] = []
            day_col: list[date] = []
            downloads: list[int] = []
            for tool in tools[first : first + args.chunk]:
                base = rng.lognormvariate(6, 2)
                growth = rng.uniform(-0.5, 1.0) / 365  # per day, log scale
                n = len(days)
                tool_ids.extend([tool.id] * n)
                packages.extend([tool.pypi[0]] * n)
                day_col.extend(days)
                downloads.extend(
                    int(base * math.exp(growth * i) * (0.8 + 0.4 * rng.random())) for i in range(n)
                )
            t1 = time.perf_counter()
            total_rows += store.write_downloads_columns(
                tool_ids, packages, day_col, downloads, "clickpy"
            )
            t2 = time.perf_counter()
            gen_seconds += t1 - t0
            write_seconds += t2 - t1
        print(
            f"downloads_daily: {total_rows:,} rows in {write_seconds:.1f}s of bulk upsert "
            f"= {total_rows / write_seconds:,.0f} rows/s (data generation {gen_seconds:.1f}s, not counted)"
        )

        # stars and releases so that the report has every metric
        t0 = time.perf_counter()
        weeks = [
            start + timedelta(days=(6 - start.weekday()) % 7 + 7 * k)
            for k in range(52 * args.years)
        ]
        star_rows = release_rows = 0
        group: list[ToolBatch] = []
        for tool in tools[: args.history_tools]:
            level = rng.lognormvariate(3, 1.5)
            trend = rng.uniform(-1.0, 1.0) / 52
            stars = tuple(
                StarWeekRecord(
                    tool.id,
                    tool.github or "",
                    w,
                    max(0, int(level * math.exp(trend * k) * (0.7 + 0.6 * rng.random()))),
                    "github",
                )
                for k, w in enumerate(weeks)
            )
            n_rel = rng.randint(5, 80)
            rels = tuple(
                ReleaseRecord(
                    tool.id,
                    "pypi",
                    tool.pypi[0],
                    f"{k // 10}.{k % 10}.0",
                    datetime.combine(
                        start + timedelta(days=rng.randrange(len(days))), datetime.min.time(), UTC
                    ),
                    False,
                    False,
                )
                for k in range(n_rel)
            )
            group.append(ToolBatch(tool.id, star_weeks=stars, releases=rels))
            if len(group) == GROUP_TOOLS:  # as the runner stores a fast source (group commit)
                store.write_batches(group)
                group = []
            star_rows += len(stars)
            release_rows += len(rels)
        store.write_batches(group)
        print(
            f"star_history: {star_rows:,} rows, releases: {release_rows:,} rows in {time.perf_counter() - t0:.1f}s "
            f"(batches of {GROUP_TOOLS} tools, as the runner stores what queued up)"
        )
    if not args.db:
        size = args.out.stat().st_size
        print(f"database: {args.out} ({size / 2**20:,.0f} MiB)")


if __name__ == "__main__":
    main()
