"""Fixtures: seeded synthetic warehouses for the report tests."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from tests.reports.synth import Synth, noisy

AS_OF = date(2025, 6, 15)
EVIL_DESC = '</script><script>alert("desc")</script><img src=x onerror=alert(1)> | pipe\nline'
EVIL_NAME = '<img src=x onerror=alert("name")>'


def build_landscape(db: Path, as_of: date = AS_OF) -> None:
    """Orchestration moves from Oozie to Airflow, Dagster and Prefect while the skill grows;
    an MLOps skill holds noise tools, a doubling tool, a viral week, a step and a dormant tool."""
    s = Synth(db, as_of)
    n = 36
    orch = {
        "oozie": (3_000_000, 0.55, 400, 0.5),
        "airflow": (6_000_000, 1.6, 1500, 1.5),
        "dagster": (800_000, 2.2, 500, 2.0),
        "prefect": (1_000_000, 1.9, 600, 1.8),
        "luigi": (900_000, 1.0, 150, 1.0),
    }
    for i, (tid, (dl, g_dl, st, g_st)) in enumerate(orch.items()):
        s.tool(tid, skill="orchestration", name=tid.capitalize(), github=f"o/{tid}", pypi=[tid])
        s.downloads(tid, noisy(dl, n, 10 + i, growth_per_year=g_dl))
        s.stars(tid, noisy(st, n, 20 + i, growth_per_year=g_st))
        s.monthly_releases(tid, n, every=2)
        s.snapshot(tid)
    for i in range(8):
        tid = f"flat{i}"
        s.tool(tid, skill="mlops", name=f"Flat {i}", github=f"o/{tid}", pypi=[tid])
        s.downloads(tid, noisy(200_000, n, 100 + i))
        s.stars(tid, noisy(300, n, 200 + i))
        s.monthly_releases(tid, n, every=3)
        s.snapshot(tid)
    s.tool("doubler", skill="mlops", name="Doubler", github="o/doubler", pypi=["doubler"])
    s.downloads("doubler", noisy(100_000, n, 300, growth_per_year=2.0))
    s.stars("doubler", noisy(200, n, 301, growth_per_year=2.0))
    s.snapshot("doubler")
    s.tool("viral", skill="mlops", name="Viral", github="o/viral")
    s.stars("viral", noisy(200, n, 302), extra={date(2025, 3, 2): 8000})
    s.snapshot("viral")
    s.tool("stepper", skill="mlops", name="Stepper", pypi=["stepper", "stepper-old"])
    s.downloads(
        "stepper", [v * (2.8 if i >= 24 else 1.0) for i, v in enumerate(noisy(300_000, n, 303))]
    )
    s.tool("sleepy", skill="mlops", name="Sleepy", github="o/sleepy", pypi=["sleepy"])
    s.releases("sleepy", [datetime(2022, 5, 1), datetime(2023, 1, 10)])
    s.snapshot("sleepy", pushed_at=datetime(2023, 2, 1))
    s.tool("archived", skill="mlops", name="Archived", github="o/archived")
    s.stars("archived", noisy(100, n, 304))
    s.snapshot("archived", archived=True)
    s.tool("evil", skill="mlops", name=EVIL_NAME, github="o/evil")
    s.stars("evil", noisy(100, n, 305))
    s.identity("evil", full_name="x/evil-new", catalog_name="o/evil", description=EVIL_DESC)
    s.releases("evil", [datetime(2025, 1, 5)], source="github", title=EVIL_DESC)
    s.tool("fblearner", skill="mlops", name="FBLearner", trackable=False, notes="internal to Meta")
    s.run("clickpy")
    s.run("github", status="partial", error="GitHub rate limit exceeded (403)", tool_id="viral")
    s.run("pypistats", finished_at=datetime(2025, 5, 1))
    s.close()


@pytest.fixture
def landscape_db(tmp_path: Path) -> Path:
    db = tmp_path / "landscape.duckdb"
    build_landscape(db)
    return db
