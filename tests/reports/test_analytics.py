from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from tests.reports.conftest import AS_OF
from tests.reports.synth import Synth, noisy
from tracker.reports.analytics import Analysis, analyse, mann_kendall_p
from tracker.warehouse import open_db


def _analyse(db: Path, as_of: date = AS_OF) -> Analysis:
    con = open_db(db, read_only=True)
    try:
        return analyse(con, as_of)
    finally:
        con.close()


def _tool(a: Analysis, tool_id: str):  # type: ignore[no-untyped-def]
    return next(t for t in a.tools if t.tool_id == tool_id)


def test_mann_kendall_p_matches_the_normal_approximation() -> None:
    z, p = mann_kendall_p(0, 24, 0)
    assert (z, p) == (0.0, 1.0)
    # S = n(n-1)/2 (a perfectly monotonic series) is highly significant
    z, p = mann_kendall_p(276, 24, 0)
    assert z > 6 and p < 1e-8
    assert mann_kendall_p(-276, 24, 0)[0] == -z


def test_flat_noise_reads_stable_in_at_least_95_of_100_seeds(tmp_path: Path) -> None:
    s = Synth(tmp_path / "noise.duckdb", AS_OF)
    for seed in range(100):
        tid = f"n{seed}"
        s.tool(tid, skill="noise")
        s.downloads(tid, noisy(50_000, 30, seed))
        s.stars(tid, noisy(150, 30, 10_000 + seed))
        s.monthly_releases(tid, 30)
    s.close()
    a = _analyse(tmp_path / "noise.duckdb")
    stable = [t for t in a.tools if t.label == "stable"]
    assert len(stable) >= 95, [(t.tool_id, t.reason) for t in a.tools if t.label != "stable"]
    for metric in ("stars", "downloads"):
        n_stable = sum(t.metrics[metric].label == "stable" for t in a.tools)
        assert n_stable >= 95, metric


def test_labels_on_the_landscape(landscape_db: Path) -> None:
    a = _analyse(landscape_db)
    assert _tool(a, "doubler").label == "rising"
    assert _tool(a, "doubler").metrics["stars"].label == "rising"
    viral = _tool(a, "viral")
    assert viral.label == "stable", viral.reason
    assert viral.driver == "stars"
    assert any(f["kind"] == "spike" for f in viral.flags)
    stepper = _tool(a, "stepper")
    assert stepper.label == "stable", stepper.reason
    step = [f for f in stepper.flags if f["kind"] == "step"]
    assert step and "2024-06" in step[0]["text"]
    assert _tool(a, "sleepy").label == "dormant"
    assert _tool(a, "archived").label == "dormant"
    assert _tool(a, "oozie").label == "declining"
    assert _tool(a, "dagster").label == "rising"
    for t in a.tools:
        if t.label in ("rising", "declining", "stable"):
            assert t.driver in t.metrics and t.metrics[t.driver].label == t.label
            assert t.driver in t.reason or t.reason.startswith(
                {"downloads": "downloads", "stars": "new stars", "releases": "releases"}[t.driver]
            )


def test_doubling_is_rising_even_when_every_tool_grows_faster_than_raw(tmp_path: Path) -> None:
    """The label is relative to the median tool: if all tools grow 30 %/yr, +30 % is stable."""
    s = Synth(tmp_path / "g.duckdb", AS_OF)
    for i in range(10):
        s.tool(f"g{i}")
        s.downloads(f"g{i}", noisy(80_000, 30, i, growth_per_year=1.3))
    s.tool("two")
    s.downloads("two", noisy(80_000, 30, 99, growth_per_year=2.6))
    s.close()
    a = _analyse(tmp_path / "g.duckdb")
    assert _tool(a, "two").label == "rising"
    assert sum(t.label == "stable" for t in a.tools) >= 9
    d = _tool(a, "g0").metrics["downloads"].inputs
    assert d["growth_per_year_raw"] == pytest.approx(1.3, abs=0.12)
    assert d["growth_per_year_relative"] == pytest.approx(1.0, abs=0.12)


def test_skill_shares_show_oozie_losing_while_the_skill_grows(landscape_db: Path) -> None:
    a = _analyse(landscape_db)
    orch = next(s for s in a.skills if s.skill == "orchestration")
    assert orch.share_metric == "downloads"
    assert orch.growth["downloads_growth"] > 1.1
    shares = {s["tool_id"]: s for s in orch.shares}
    assert shares["oozie"]["downloads_share_change_pp"] < -3
    assert shares["oozie"]["stars_share_change_pp"] < 0
    assert {w["tool_id"] for w in orch.winners} & {"airflow", "dagster", "prefect"}
    assert "oozie" in {w["tool_id"] for w in orch.losers}
    # the quarterly share series per tool, as charted
    oozie_q = a.charts["shares"]["orchestration"]["oozie"]
    assert oozie_q[0][2] > oozie_q[-1][2]


def test_partial_data_only_pypi_releases(tmp_path: Path) -> None:
    s = Synth(tmp_path / "p.duckdb", AS_OF)
    s.tool("only", pypi=["only"])
    s.monthly_releases("only", 30)
    s.tool("young", pypi=["young"])
    s.releases("young", [datetime(2025, 1, 3)])
    s.close()
    a = _analyse(tmp_path / "p.duckdb")
    assert any("star history" in m for m in a.missing)
    assert any("download" in m for m in a.missing)
    only = _tool(a, "only")
    assert only.driver == "releases" and only.label == "stable"
    assert set(only.metrics) == {"releases"}
    young = _tool(a, "young")
    assert young.label == "insufficient data"
    assert "no data for stars, downloads" in young.reason


def test_empty_database_gives_an_analysis_that_names_what_is_missing(db_path: Path) -> None:
    open_db(db_path).close()
    a = _analyse(db_path)
    assert a.tools == []
    assert any("tools table is empty" in m for m in a.missing)
