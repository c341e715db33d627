"""Label benchmark: trend labels judged on real history (../shared/data/real-history/).

Replays the real weekly snapshots of `bestof-dev.csv.gz` into a fresh warehouse, runs
`tracker report --as-of END` for each period, and judges the labels by the method of that
folder's README:

- replay: cumulative stars are interpolated per day between snapshots and their weekly gains go
  to `star_history` (weeks starting on Sunday); each day gets the interpolated 30-day download
  figure / 30 in `downloads_daily`; renamed repos (same PyPI project, time-disjoint ids) are one
  project under the newest id;
- for each project and metric with enough volume in the earlier year (>= 100 new stars, or
  >= 3,000 downloads a month) three readings of the later vs the earlier year (END-1y, END] vs
  (END-2y, END-1y]: `r` (ratio of sums, or of mean monthly figures), `rm` (ratio of the medians
  of twelve equal sub-windows) and `rr` (`r` / the median `r` of those projects);
- a case is clear when all three agree with margin (rising r >= 1.5, rm and rr >= 1.35;
  declining r <= 0.67, rm and rr <= 0.75; stable 0.9 <= r <= 1.1, rm and rr in 0.85-1.15);
- a label is the wrong way when it says rising while all three readings are below 1, or
  declining (or dormant) while all three are above 1.

Prints, per metric: clear-case agreement, wrong-way count and insufficient-data count (of the
projects with volume and of the clear cases), then the worst ten cases with their readings.
The judge here is written independently of the labeler (it reads the replayed tables, not the
labeler's SQL).

    .venv/bin/python benchmarks/bench_labels.py [--csv PATH] [--work DIR] [--period END]...
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

HERE = Path(__file__).resolve().parent
DEFAULT_CSV = HERE.parent.parent / "shared" / "data" / "real-history" / "bestof-dev.csv.gz"
PERIODS = ("2023-06-30", "2024-06-06", "2025-06-26")
MIN_STARS = 100  # new stars in the earlier year
MIN_DOWNLOADS = 3000  # mean monthly downloads in the earlier year

# ---- replay --------------------------------------------------------------------------------
_LOAD = """
CREATE TABLE raw AS SELECT * FROM read_csv($csv, header = true, auto_detect = true);
-- one figure per (repo id, day): several lists (or categories) may hold the same repo
CREATE TABLE snap AS
SELECT lower(github_id) AS gid, snapshot_date AS d, max(star_count) AS stars,
       max(pypi_monthly_downloads) AS dl, arg_max(pypi_id, snapshot_date) AS pypi_id,
       arg_max(category, snapshot_date) AS category, arg_max(github_id, snapshot_date) AS github_id
FROM raw WHERE github_id IS NOT NULL GROUP BY ALL;
-- renames: ids with the same PyPI project whose snapshot ranges do not overlap join the newest
CREATE TABLE span AS
SELECT gid, min(d) AS first_d, max(d) AS last_d, arg_max(pypi_id, d) AS pypi_id
FROM snap GROUP BY gid;
CREATE TABLE project_of AS
WITH pairs AS (
    SELECT a.gid AS old, b.gid AS new
    FROM span a JOIN span b ON a.pypi_id = b.pypi_id AND a.gid <> b.gid AND a.last_d < b.first_d
)
SELECT s.gid, coalesce((SELECT max_by(p.new, b.last_d) FROM pairs p JOIN span b ON b.gid = p.new
                        WHERE p.old = s.gid), s.gid) AS project
FROM span s;
CREATE TABLE psnap AS
SELECT p.project, s.d, max(s.stars) AS stars, max(s.dl) AS dl
FROM snap s JOIN project_of p USING (gid) GROUP BY ALL;
CREATE TABLE projects AS
SELECT p.project, arg_max(s.github_id, s.d) AS github_id, arg_max(s.category, s.d) AS category,
       arg_max(s.pypi_id, s.d) FILTER (WHERE s.pypi_id IS NOT NULL) AS pypi_id
FROM snap s JOIN project_of p USING (gid) GROUP BY ALL;
"""

# linear interpolation of a cumulative/rolling figure between consecutive snapshots, per day
_INTERP = """
CREATE TABLE {name} AS
WITH pts AS (
    SELECT project, d, {col} AS v,
           lead(d) OVER w AS d2, lead({col}) OVER w AS v2
    FROM psnap WHERE {col} IS NOT NULL
    WINDOW w AS (PARTITION BY project ORDER BY d)
)
SELECT project, (d + to_days(k::INTEGER))::DATE AS day,
       v + (v2 - v) * k / datediff('day', d, d2) AS v
FROM pts, range(datediff('day', d, coalesce(d2, d))) r(k)
WHERE d2 IS NOT NULL
UNION ALL
SELECT project, max(d), arg_max({col}, d) FROM psnap WHERE {col} IS NOT NULL GROUP BY project;
"""

_STAR_WEEKS = """
SELECT 'p' || lpad(CAST(pr.n AS VARCHAR), 5, '0') AS tool_id, pr.github_id AS repo,
       c.day AS week_start,
       CAST(round(c2.v) - round(c.v) AS BIGINT) AS stars_added, 'github' AS source
FROM cum c
JOIN cum c2 ON c2.project = c.project AND c2.day = c.day + 7
JOIN numbered pr ON pr.project = c.project
WHERE dayofweek(c.day) = 0
"""

_DOWNLOADS = """
SELECT 'p' || lpad(CAST(pr.n AS VARCHAR), 5, '0') AS tool_id, pr.pypi_id AS package, m.day,
       CAST(round(m.v / 30) AS BIGINT) AS downloads, 'clickpy' AS source
FROM monthly m JOIN numbered pr ON pr.project = m.project
WHERE pr.pypi_id IS NOT NULL
"""


def replay(csv: Path, db_path: Path) -> int:
    """Build a tracker warehouse at ``db_path`` from the CSV; return the number of projects."""
    from tracker.warehouse.db import WriterLock, open_db

    src = duckdb.connect()
    src.execute(_LOAD.replace("$csv", "'" + str(csv).replace("'", "''") + "'"))
    src.execute(_INTERP.format(name="cum", col="stars"))
    src.execute(_INTERP.format(name="monthly", col="dl"))
    src.execute(
        "CREATE TABLE numbered AS SELECT row_number() OVER (ORDER BY project) AS n, * FROM projects"
    )
    tools = src.execute(
        "SELECT 'p' || lpad(CAST(n AS VARCHAR), 5, '0'), github_id, category, pypi_id "
        "FROM numbered ORDER BY n"
    ).fetchall()
    star_weeks = src.sql(_STAR_WEEKS).to_arrow_table()
    downloads = src.sql(_DOWNLOADS).to_arrow_table()
    with WriterLock(db_path):
        con = open_db(db_path)
        try:
            con.execute("BEGIN TRANSACTION")
            cats = sorted({t[2] for t in tools})
            con.executemany(
                "INSERT INTO skills VALUES (?, ?, ?)", [(c, c, i) for i, c in enumerate(cats)]
            )
            con.executemany(
                "INSERT INTO tools (tool_id, name, skill, github_repo, pypi_packages, trackable,"
                " notes, apache_project, formerly, in_catalog, updated_at)"
                " VALUES (?, ?, ?, ?, ?, true, NULL, NULL, [], true, TIMESTAMP '2026-07-31')",
                [(t[0], t[1], t[2], t[1], [t[3]] if t[3] else []) for t in tools],
            )
            con.register("_w", star_weeks)
            con.execute("INSERT INTO star_history SELECT * FROM _w")
            con.register("_d", downloads)
            con.execute(
                "INSERT INTO downloads_daily (tool_id, package, day, downloads, source)"
                " SELECT tool_id, package, day, downloads, source FROM _d"
            )
            con.execute("COMMIT")
        finally:
            con.close()
    return len(tools)


# ---- the judge -------------------------------------------------------------------------------
# Readings per project and metric from the replayed tables: later (END-365, END] vs earlier
# (END-730, END-365]; twelve equal sub-windows per year (by day offset).
_JUDGE = """
WITH series AS (
    SELECT tool_id, 'stars' AS metric, week_start AS day, stars_added::DOUBLE AS v
    FROM star_history
    UNION ALL
    SELECT tool_id, 'downloads', day, downloads::DOUBLE FROM downloads_daily
), span AS (  -- a project is judged only where its series covers both years
    SELECT tool_id, metric FROM series GROUP BY ALL
    HAVING $any_coverage OR (min(day) <= $end::DATE - 730 + 7 AND max(day) >= $end::DATE - 7)
), w AS (
    SELECT tool_id, metric, v, datediff('day', day, $end::DATE) AS age
    FROM series JOIN span USING (tool_id, metric)
    WHERE day > $end::DATE - 730 AND day <= $end::DATE
), tagged AS (
    SELECT *, age >= 365 AS earlier,
           floor((CASE WHEN age >= 365 THEN age - 365 ELSE age END) * 12 / 365)::INTEGER AS sub
    FROM w
), subs AS (
    SELECT tool_id, metric, earlier, sub,
           CASE WHEN metric = 'stars' THEN sum(v) ELSE avg(v) * 30 END AS x
    FROM tagged GROUP BY tool_id, metric, earlier, sub
), years AS (
    SELECT tool_id, metric, earlier,
           CASE WHEN metric = 'stars' THEN sum(v) ELSE avg(v) * 30 END AS total
    FROM tagged GROUP BY tool_id, metric, earlier
), med AS (
    SELECT tool_id, metric, earlier, median(x) AS m FROM subs GROUP BY ALL
)
SELECT e.tool_id, e.metric, e.total AS earlier, l.total AS later,
       l.total / nullif(e.total, 0) AS r, ml.m / nullif(me.m, 0) AS rm
FROM years e JOIN years l ON l.tool_id = e.tool_id AND l.metric = e.metric AND NOT l.earlier
JOIN med me ON me.tool_id = e.tool_id AND me.metric = e.metric AND me.earlier
JOIN med ml ON ml.tool_id = e.tool_id AND ml.metric = e.metric AND NOT ml.earlier
WHERE e.earlier
  AND e.total >= CASE e.metric WHEN 'stars' THEN $min_stars ELSE $min_downloads END
"""


@dataclass(frozen=True, slots=True)
class Case:
    tool_id: str
    repo: str
    metric: str
    r: float
    rm: float | None
    rr: float
    truth: str | None  # clear case: rising | declining | stable; None: not clear
    label: str
    period: str


def clear(r: float, rm: float | None, rr: float) -> str | None:
    if rm is None:
        return None
    if r >= 1.5 and rm >= 1.35 and rr >= 1.35:
        return "rising"
    if r <= 0.67 and rm <= 0.75 and rr <= 0.75:
        return "declining"
    if 0.9 <= r <= 1.1 and 0.85 <= rm <= 1.15 and 0.85 <= rr <= 1.15:
        return "stable"
    return None


def wrong_way(c: Case) -> bool:
    readings = [c.r, c.rr] + ([c.rm] if c.rm is not None else [])
    if c.label == "rising":
        return all(x < 1 for x in readings)
    if c.label in ("declining", "dormant"):
        return all(x > 1 for x in readings)
    return False


def agrees(c: Case) -> bool:
    label = "declining" if c.label == "dormant" else c.label
    return label == c.truth


def judge(db_path: Path, report_json: Path, period: str, any_coverage: bool = False) -> list[Case]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        rows = con.execute(
            _JUDGE,
            {
                "end": period,
                "min_stars": MIN_STARS,
                "min_downloads": MIN_DOWNLOADS,
                "any_coverage": any_coverage,
            },
        ).fetchall()
        repos = dict(con.execute("SELECT tool_id, github_repo FROM tools").fetchall())
    finally:
        con.close()
    doc = json.loads(report_json.read_text())
    labels: dict[tuple[str, str], str] = {}
    for tool in doc["tools"]:
        for metric, mt in tool["metrics"].items():
            labels[(tool["tool_id"], metric)] = mt["label"]
    cases: list[Case] = []
    for metric in ("stars", "downloads"):
        rs = sorted(r[4] for r in rows if r[1] == metric and r[4] is not None)
        median_r = (
            rs[len(rs) // 2] if len(rs) % 2 else (rs[len(rs) // 2 - 1] + rs[len(rs) // 2]) / 2
        )
        for tool_id, m, _earlier, _later, r, rm in rows:
            if m != metric or r is None:
                continue
            rr = r / median_r
            cases.append(
                Case(
                    tool_id,
                    repos.get(tool_id, tool_id),
                    metric,
                    r,
                    rm,
                    rr,
                    clear(r, rm, rr),
                    labels.get((tool_id, metric), "insufficient data"),
                    period,
                )
            )
    return cases


def run_report(db_path: Path, out: Path, period: str) -> float:
    exe = shutil.which("tracker", path=str(Path(sys.executable).parent)) or "tracker"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [exe, "report", "--db", str(db_path), "--out", str(out), "--as-of", period, "--quiet"],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.exit(f"tracker report --as-of {period} failed ({proc.returncode}): {proc.stderr}")
    return time.perf_counter() - t0


def _fmt(x: float | None) -> str:
    return "  n/a" if x is None else f"{x:5.2f}"


def summarise(cases: list[Case]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for metric in ("stars", "downloads"):
        mc = [c for c in cases if c.metric == metric]
        cl = [c for c in mc if c.truth]
        out[metric] = {
            "judged": len(mc),
            "clear": len(cl),
            "agree": sum(agrees(c) for c in cl),
            "wrong_way": sum(wrong_way(c) for c in mc),
            "insufficient": sum(c.label == "insufficient data" for c in mc),
            "clear_insufficient": sum(c.label == "insufficient data" for c in cl),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--work", type=Path, default=HERE / "out" / "labels")
    parser.add_argument("--period", action="append", help="END date (repeatable)")
    parser.add_argument("--keep", action="store_true", help="reuse an existing replay warehouse")
    parser.add_argument(
        "--any-coverage",
        action="store_true",
        help="also judge projects whose series does not cover both years (partial data)",
    )
    args = parser.parse_args()
    if not args.csv.exists():
        sys.exit(f"{args.csv}: not found (the real history lives in ../shared/data/real-history/)")
    periods = args.period or list(PERIODS)
    args.work.mkdir(parents=True, exist_ok=True)
    db_path = args.work / "replay.duckdb"
    if not (args.keep and db_path.exists()):
        for p in (db_path, db_path.with_suffix(".duckdb.wal")):
            p.unlink(missing_ok=True)
        t0 = time.perf_counter()
        n = replay(args.csv, db_path)
        print(f"replayed {n} projects into {db_path} in {time.perf_counter() - t0:.1f}s")
    cases: list[Case] = []
    for period in periods:
        out = args.work / f"report-{period}"
        secs = run_report(db_path, out, period)
        got = judge(db_path, out / "trends.json", period, args.any_coverage)
        s = summarise(got)
        print(
            f"as of {period} (report {secs:.1f}s): "
            + "; ".join(
                f"{m} {v['agree']}/{v['clear']} clear agree, {v['wrong_way']} wrong way, "
                f"{v['insufficient']} insufficient of {v['judged']}"
                for m, v in s.items()
            )
        )
        cases.extend(got)
    print()
    print("| metric | clear cases that agree | labels the wrong way | insufficient data |")
    print("|---|---|---|---|")
    for metric, v in summarise(cases).items():
        pct = 100 * v["agree"] / v["clear"] if v["clear"] else float("nan")
        print(
            f"| {metric} | {v['agree']}/{v['clear']} ({pct:.1f} %) | {v['wrong_way']} of "
            f"{v['judged']} | {v['insufficient']} of {v['judged']} "
            f"({v['clear_insufficient']} clear) |"
        )
    bad = [c for c in cases if wrong_way(c)] + [
        c for c in cases if c.truth and not agrees(c) and not wrong_way(c)
    ]
    bad.sort(key=lambda c: (not wrong_way(c), -abs(math.log(max(c.r, 1e-9)))))
    print()
    print("worst cases (wrong way first, then clear cases that disagree):")
    print(
        "period      metric     project                                   label        truth     r    rm    rr"
    )
    for c in bad[:10]:
        print(
            f"{c.period}  {c.metric:<9}  {c.repo[:40]:<40}  {c.label:<11}  "
            f"{(c.truth or '-'):<9} {_fmt(c.r)} {_fmt(c.rm)} {_fmt(c.rr)}"
        )


if __name__ == "__main__":
    main()
