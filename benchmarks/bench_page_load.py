"""Page-load benchmark: the HTML report of the bundled catalog (300+ tools) opened in Chromium.

Goal (issue: demand beside adoption): the report page loads in under 2 s in Chromium with 300+
tools. Builds a warehouse for every tool of the bundled catalog with seeded synthetic data for
every metric the page charts (weekly stars, daily downloads, releases, Hacker News job posts and
Stack Overflow questions per month; this measures the page, not the collectors), runs
`tracker report`, then opens `index.html` from disk in headless Chromium (Playwright) three times
and prints the median of:

- load: navigation start to the end of the `load` event (plotly.js parsed, page laid out);
- first chart: navigation start until the first chart is drawn, scrolled into view right after
  the load event (charts are drawn as the reader scrolls to them).

    .venv/bin/python benchmarks/bench_page_load.py [--out benchmarks/out/page] [--chromium /usr/bin/chromium]

Needs Chromium (`apt-get install chromium`) and the dev extra (playwright's Python package).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tracker.catalog import load_catalog
from tracker.records import DemandRecord, ReleaseRecord, StarWeekRecord, ToolBatch
from tracker.warehouse import Store, WriterLock, open_db

END = date(2026, 11, 24)
YEARS = 5


def _months(n: int) -> list[date]:
    out = []
    y, m = END.year, END.month
    for _ in range(n):
        out.append(date(y, m, 1))
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


def build(db: Path) -> int:
    """Write the synthetic warehouse; return the number of tools."""
    rng = random.Random(7)
    catalog = load_catalog()
    days = [END - timedelta(days=i) for i in range(365 * YEARS)][::-1]
    weeks = [d for d in days if d.weekday() == 6]
    months = _months(120)
    for suffix in ("", ".wal"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    db.parent.mkdir(parents=True, exist_ok=True)
    with WriterLock(db):
        con = open_db(db)
        store = Store(con)
        store.refresh_tools(catalog)
        ids: list[str] = []
        pkgs: list[str] = []
        day_col: list[date] = []
        counts: list[int] = []
        for tool in catalog.tools:
            trend = rng.uniform(-1.0, 1.0)
            if tool.pypi:
                base = rng.lognormvariate(7, 2)
                n = len(days)
                ids.extend([tool.id] * n)
                pkgs.extend([tool.pypi[0]] * n)
                day_col.extend(days)
                counts.extend(
                    int(base * math.exp(trend * i / 365) * (0.8 + 0.4 * rng.random()))
                    for i in range(n)
                )
            level = rng.lognormvariate(3, 1.5)
            stars = tuple(
                StarWeekRecord(
                    tool.id,
                    tool.github or "",
                    w,
                    max(0, int(level * math.exp(trend * k / 52) * (0.7 + 0.6 * rng.random()))),
                    "github",
                )
                for k, w in enumerate(weeks)
                if tool.github
            )
            rels = tuple(
                ReleaseRecord(
                    tool.id,
                    "pypi",
                    tool.pypi[0] if tool.pypi else tool.id,
                    f"{k // 10}.{k % 10}.0",
                    datetime.combine(rng.choice(days), datetime.min.time(), UTC),
                    False,
                    False,
                )
                for k in range(rng.randint(5, 60))
            )
            demand = tuple(
                DemandRecord(tool.id, source, m, rng.randint(0, 12), total)
                for source, total in (("hn", 900), ("stackoverflow", 120_000))
                for m in months
            )
            store.write_batch(ToolBatch(tool.id, star_weeks=stars, releases=rels, demand=demand))
        store.write_downloads_columns(ids, pkgs, day_col, counts, "clickpy")
        con.close()
    return len(catalog.tools)


def measure(page_path: Path, chromium: str, rounds: int) -> tuple[list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    loads: list[float] = []
    firsts: list[float] = []
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            for _ in range(rounds):
                page = browser.new_page(viewport={"width": 1360, "height": 900})
                page.on("pageerror", lambda e: errors.append(str(e)))
                t0 = time.perf_counter()
                page.goto(page_path.resolve().as_uri(), wait_until="load")
                loads.append(time.perf_counter() - t0)
                # the charts sit below the headline and the tables: scroll the first one into
                # view, as a reader would, and wait until it is drawn
                page.locator("[data-chart]").first.scroll_into_view_if_needed()
                page.wait_for_selector(".js-plotly-plot", timeout=30_000)
                firsts.append(time.perf_counter() - t0)
                if errors:
                    sys.exit(f"JavaScript errors on the page: {errors}")
                page.close()
        finally:
            browser.close()
    return loads, firsts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/page"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    db = args.out / "page.duckdb"
    t0 = time.perf_counter()
    tools = build(db)
    print(f"warehouse: {tools} tools of the bundled catalog in {time.perf_counter() - t0:.1f}s")
    exe = shutil.which("tracker", path=str(Path(sys.executable).parent)) or "tracker"
    report = args.out / "report"
    proc = subprocess.run(
        [exe, "report", "--db", str(db), "--out", str(report), "--as-of", END.isoformat()],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.exit(f"tracker report failed ({proc.returncode}): {proc.stderr.strip()}")
    index = report / "index.html"
    print(f"index.html: {os.path.getsize(index) / 2**20:.1f} MiB")
    loads, firsts = measure(index, args.chromium, args.rounds)
    load, first = statistics.median(loads), statistics.median(firsts)
    print(
        f"Chromium, median of {args.rounds}: load {load:.2f}s, first chart drawn {first:.2f}s "
        f"(goal load < 2 s: {'ok' if load < 2 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
