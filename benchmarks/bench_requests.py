"""Request economy of the github source against the loopback GitHub emulator (``fakes``).

500 repos aged 1 to 10 years (weekly star history since creation, a few releases each); runs
`tracker collect --source github` twice without a token and twice with one, and prints requests
per repo from `runs.requests` and from the fake's own log. Goals: first run at most
ceil(weeks/30) + 2 requests per repo; incremental run at most 1.1 per repo (with a token:
metadata and releases batched through GraphQL, 304s, newest star-history page only).

    .venv/bin/python benchmarks/bench_requests.py [--repos 500]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from fakes import (
    Budget,
    FakeUpstream,
    GhRelease,
    StarWeek,
    at,
    iter_sundays,
)


def _weeks(created: date, today: date, seed: int) -> list[StarWeek]:
    """One week per Sunday from ``created``'s week to ``today``'s (some negative)."""
    first = created - timedelta(days=(created.weekday() + 1) % 7)  # its week's Sunday
    last = today - timedelta(days=(today.weekday() + 1) % 7)
    n = (last - first).days // 7 + 1
    return [
        StarWeek(sunday, (((i * 7 + seed) % 13) - 1, 0, 0, 0, 0, 0, 0))
        for i, sunday in enumerate(iter_sundays(today, n))
    ]


def _catalog(path: Path, n: int) -> None:
    lines = ["tools:"]
    for i in range(n):
        lines += [
            f"  - id: bench-{i:04d}",
            f"    name: Bench {i}",
            "    skill: mlops",
            f"    github: bench/repo-{i}",
        ]
    path.write_text("\n".join(lines) + "\n")


def _collect(env: dict[str, str], db: Path, n: int) -> tuple[int, int, float]:
    t0 = time.perf_counter()
    tools = [arg for i in range(n) for arg in ("--tool", f"bench-{i:04d}")]  # not the bundled ones
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tracker",
            "collect",
            "--source",
            "github",
            "--db",
            str(db),
            "--quiet",
            *tools,
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    row = con.execute(
        "SELECT requests FROM runs WHERE source = 'github' ORDER BY run_id DESC LIMIT 1"
    ).fetchone()
    con.close()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"collect failed: {proc.stderr.strip()}")
    return proc.returncode, int(row[0]) if row else -1, wall


def _serve(n: int) -> tuple[FakeUpstream, int, int]:
    """Start the fake with ``n`` repos aged 1-10 years; return it, the request goal, the weeks."""
    rng = random.Random(7)
    today = date(2026, 11, 25)
    fake = FakeUpstream().start()
    github = fake.github
    budget = 0
    weeks_total = 0
    for i in range(n):
        created = today - timedelta(days=rng.randint(365, 3650))
        weeks = _weeks(created, today, seed=i)
        weeks_total += len(weeks)
        budget += math.ceil(len(weeks) / 30) + 2
        releases = []
        for k in range(rng.randint(0, 12)):
            published = at((today - timedelta(days=30 * k + 1)).isoformat() + "T00:00:00Z")
            releases.append(GhRelease(f"v{k}.0", published, published, f"Release v{k}.0"))
        github.add_repo(
            f"bench/repo-{i}",
            id=1000 + i,
            created_at=at(created.isoformat() + "T00:00:00Z"),
            stargazers_count=sum(w.total for w in weeks),
            star_weeks=weeks,
            releases=releases,
        )
    unlimited = 10**9
    github.core = Budget(unlimited, unlimited)
    github.core_anonymous = Budget(unlimited, unlimited)
    github.graphql = Budget(unlimited, unlimited)
    return fake, budget, weeks_total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=500)
    args = parser.parse_args()
    fake, budget, weeks_total = _serve(args.repos)
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Path(tmp) / "bench.yaml"
        _catalog(catalog, args.repos)
        base_env = {k: v for k, v in os.environ.items() if k != "GITHUB_TOKEN"}
        base_env.update(
            {
                "TRACKER_CATALOG": str(catalog),
                "TRACKER_GITHUB_API_URL": fake.url("github"),
                "NO_PROXY": "*",
            }
        )
        print(
            f"{args.repos} repos, {weeks_total:,} weeks of history; "
            f"first-run goal sum(ceil(weeks/30) + 2) = {budget:,} requests ({budget / args.repos:.2f}/repo)"
        )
        for label, token in (("without token", None), ("with token", "bench-token")):
            env = dict(base_env)
            if token:
                env["GITHUB_TOKEN"] = token
            db = Path(tmp) / f"{label.replace(' ', '-')}.duckdb"
            for run in ("first run", "incremental run"):
                before = fake.log.count(source="github")
                code, counted, wall = _collect(env, db, args.repos)
                served = fake.log.count(source="github") - before
                goal = budget if run == "first run" else 1.1 * args.repos
                verdict = "ok" if counted <= goal else "MISSED"
                print(
                    f"{label:>13}, {run:<15}: {counted:>6,} requests ({counted / args.repos:.2f}/repo; "
                    f"server saw {served:,}), exit {code}, {wall:.1f}s  [goal <= {goal / args.repos:.2f}/repo: {verdict}]"
                )
    fake.stop()


if __name__ == "__main__":
    main()
