from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from tests.reports import factory
from tests.reports.conftest import AS_OF
from tests.reports.synth import Synth, noisy
from tracker.reports.analytics import Analysis, analyse, judge
from tracker.reports.load import load
from tracker.warehouse import open_db


def _analyse(db: Path, as_of: date = AS_OF) -> Analysis:
    con = open_db(db, read_only=True)
    try:
        return analyse(load(con, as_of), as_of)
    finally:
        con.close()


def _tool(a: Analysis, tool_id: str):  # type: ignore[no-untyped-def]
    return next(t for t in a.tools if t.tool_id == tool_id)


def test_judge_needs_all_three_readings_with_margin() -> None:
    assert judge(1.6, 1.4, 1.5, None) == ("rising", [])
    assert judge(0.5, 0.6, 0.6, None) == ("declining", [])
    # plain up, but the typical month did not move: a spike, stable
    label, why = judge(3.0, 1.0, 2.5, None)
    assert label == "stable" and "spike" in why[0]
    # plain down, but the whole market fell as much: stable, and the reason says so
    label, why = judge(0.7, 0.7, 0.95, None)
    assert label == "stable" and "median tool" in why[0]
    # flat, but better than a falling market
    label, why = judge(1.0, 1.0, 1.33, None)
    assert label == "stable" and "better than the median tool" in why[0]
    # a count change that does not stand out of Poisson noise
    label, why = judge(2.0, 2.0, 2.0, 1.2)
    assert label == "stable" and "noise" in why[0]
    assert judge(None, None, None, None)[0] == "insufficient data"


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
    # a tool's own level shift (x2.8 a year ago, kept since) is news: rising, and flagged
    stepper = _tool(a, "stepper")
    assert stepper.label == "rising", stepper.reason
    step = [f for f in stepper.flags if f["kind"] == "step"]
    assert step and "2024-06" in step[0]["text"] and "kept" in step[0]["text"]
    assert "level shift" in stepper.metrics["downloads"].reason
    assert _tool(a, "sleepy").label == "dormant"
    assert _tool(a, "archived").label == "dormant"
    assert _tool(a, "oozie").label == "declining"
    assert _tool(a, "dagster").label == "rising"
    for t in a.tools:
        if t.label in ("rising", "declining", "stable"):
            assert t.driver in t.metrics and t.metrics[t.driver].label == t.label
            title = {"downloads": "downloads", "stars": "new stars", "releases": "releases"}
            assert t.reason.startswith(title[t.driver])
            assert "year on year" in t.reason and "p=" not in t.reason


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
    assert d["r"] == pytest.approx(1.3, abs=0.12)
    assert d["rr"] == pytest.approx(1.0, abs=0.12)


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


def test_drift_world_turns_no_label_the_other_way(tmp_path: Path) -> None:
    """Every tool's stars x0.75 a year and downloads x1.3 a year (the market drifts): a tool
    that only follows the market is stable, one that holds flat while the market falls is
    stable with the disagreement in its reason, and real movers keep their direction."""
    s = Synth(tmp_path / "drift.duckdb", AS_OF)
    for i in range(12):
        s.tool(f"m{i}", skill="noise")
        s.stars(f"m{i}", noisy(400, 30, 500 + i, growth_per_year=0.75, noise=0.1))
        s.downloads(f"m{i}", noisy(90_000, 30, 600 + i, growth_per_year=1.3, noise=0.1))
    s.tool("flat")
    s.stars("flat", noisy(400, 30, 700, noise=0.1))
    s.downloads("flat", noisy(90_000, 30, 701, noise=0.1))
    s.tool("up")
    s.stars("up", noisy(400, 30, 702, growth_per_year=2.2, noise=0.1))
    s.downloads("up", noisy(90_000, 30, 703, growth_per_year=3.0, noise=0.1))
    s.tool("down")
    s.stars("down", noisy(400, 30, 704, growth_per_year=0.3, noise=0.1))
    s.downloads("down", noisy(90_000, 30, 705, growth_per_year=0.45, noise=0.1))
    s.close()
    a = _analyse(tmp_path / "drift.duckdb")
    for i in range(12):
        t = _tool(a, f"m{i}")
        assert t.metrics["stars"].label == "stable", t.metrics["stars"].reason
        assert t.metrics["downloads"].label == "stable", t.metrics["downloads"].reason
    flat = _tool(a, "flat")
    assert flat.metrics["stars"].label == "stable"
    assert "better than the median tool" in flat.metrics["stars"].reason
    assert flat.metrics["downloads"].label == "stable"
    assert "behind the median tool" in flat.metrics["downloads"].reason
    for metric in ("stars", "downloads"):
        assert _tool(a, "up").metrics[metric].label == "rising"
        assert _tool(a, "down").metrics[metric].label == "declining"
    for t in a.tools:
        for mt in t.metrics.values():
            i = mt.inputs
            if mt.label == "rising":
                assert min(i["r"], i["rm"], i["rr"]) > 1
            if mt.label == "declining":
                assert max(i["r"], i["rm"], i["rr"]) < 1


def test_a_market_wide_step_cancels_in_the_relative_reading(tmp_path: Path) -> None:
    """A counting change that moves every package at once (x2.8) is not a trend of any tool."""
    s = Synth(tmp_path / "market.duckdb", AS_OF)
    for i in range(8):
        s.tool(f"c{i}")
        s.downloads(
            f"c{i}",
            [v * (2.8 if m >= 20 else 1) for m, v in enumerate(noisy(50_000, 30, 800 + i))],
        )
    s.close()
    a = _analyse(tmp_path / "market.duckdb")
    for t in a.tools:
        mt = t.metrics["downloads"]
        assert mt.label == "stable", mt.reason
        assert "median tool" in mt.reason
        assert any(f["kind"] == "step" for f in t.flags)


def test_a_collapse_and_a_take_off_are_not_erased(tmp_path: Path) -> None:
    """The old labeler removed level shifts; a real collapse must read declining."""
    s = Synth(tmp_path / "shift.duckdb", AS_OF)
    for i in range(8):
        s.tool(f"s{i}")
        s.downloads(f"s{i}", noisy(40_000, 30, 900 + i))
    s.tool("collapse")
    s.downloads(
        "collapse", [v * (0.07 if m >= 22 else 1) for m, v in enumerate(noisy(40_000, 30, 950))]
    )
    s.tool("takeoff")
    s.downloads(
        "takeoff", [v * (3 if m >= 20 else 1) for m, v in enumerate(noisy(40_000, 30, 951))]
    )
    s.close()
    a = _analyse(tmp_path / "shift.duckdb")
    assert _tool(a, "collapse").metrics["downloads"].label == "declining"
    assert _tool(a, "takeoff").metrics["downloads"].label == "rising"


def test_as_of_past_the_newest_data_ends_the_windows_there_and_says_so(tmp_path: Path) -> None:
    s = Synth(tmp_path / "late.duckdb", AS_OF)
    for i in range(6):
        s.tool(f"t{i}")
        s.downloads(f"t{i}", noisy(40_000, 30, 1000 + i))
        s.stars(f"t{i}", noisy(300, 30, 1100 + i))
    s.close()
    late = date(AS_OF.year + 1, 3, 1)
    a = _analyse(tmp_path / "late.duckdb", late)
    assert a.missing and a.missing[0].startswith(f"the as-of date {late.isoformat()} is past")
    for t in a.tools:
        assert t.metrics["downloads"].label == "stable", t.metrics["downloads"].reason
        assert t.metrics["downloads"].inputs["window_end"] < AS_OF.isoformat()


def test_release_only_labels_are_low_confidence(tmp_path: Path) -> None:
    s = Synth(tmp_path / "rel.duckdb", AS_OF)
    for i in range(6):
        s.tool(f"r{i}")
        s.monthly_releases(f"r{i}", 30)
    s.tool("slowing")
    # a release a month in the earlier year, none in the later year
    s.releases(
        "slowing",
        [datetime(2023, m, 10) for m in range(7, 13)]
        + [datetime(2024, m, 10) for m in range(1, 7)],
    )
    s.close()
    a = _analyse(tmp_path / "rel.duckdb")
    slowing = _tool(a, "slowing")
    assert slowing.label == "declining" and slowing.driver == "releases"
    assert slowing.confidence == "low" and "low confidence" in slowing.reason


def test_skill_labels_say_how_many_tools_back_them(landscape_db: Path) -> None:
    a = _analyse(landscape_db)
    orch = next(s for s in a.skills if s.skill == "orchestration")
    dl = orch.metric_labels["downloads"]
    assert dl["tools_judged"] == 5
    assert "5 judged tools" in dl["reason"]
    assert orch.label in ("rising", "stable", "declining")


def test_demand_is_labelled_beside_adoption_and_disagreement_is_said(tmp_path: Path) -> None:
    """Job posts and questions get labels by the same rule; Stack Overflow's market-wide fall
    cancels in the relative reading; the headline says where demand and adoption disagree."""
    from tests.reports.synth import add_demand

    s = Synth(tmp_path / "demand.duckdb", AS_OF)
    for i in range(8):
        s.tool(f"d{i}")
        s.downloads(f"d{i}", noisy(60_000, 30, 1200 + i, noise=0.1))
        add_demand(s, f"d{i}", "hn", noisy(40, 30, 1300 + i, noise=0.1))
        add_demand(s, f"d{i}", "stackoverflow", noisy(300, 30, 1400 + i, growth_per_year=0.5))
    s.tool("hot")
    s.downloads("hot", noisy(60_000, 30, 1500, growth_per_year=2.5, noise=0.1))
    add_demand(s, "hot", "hn", noisy(40, 30, 1501, noise=0.1))
    add_demand(s, "hot", "stackoverflow", noisy(300, 30, 1502, growth_per_year=0.5))
    s.close()
    a = _analyse(tmp_path / "demand.duckdb")
    hot = _tool(a, "hot")
    assert hot.label == "rising" and hot.driver == "downloads"
    assert hot.metrics["job_posts"].label == "stable"
    assert "Demand disagrees: downloads rising, job posts stable" in hot.reason
    for i in range(8):
        q = _tool(a, f"d{i}").metrics["questions"]
        assert q.inputs["r"] < 0.7  # every tag's questions halve...
        assert q.label == "stable", q.reason  # ...so no tool is declining on that alone
    orch = next(sk for sk in a.skills if sk.skill == "orchestration")
    assert {"job_posts", "questions"} <= set(orch.metric_labels)
    assert a.charts["shares"]["orchestration"]


def test_analyse_runs_on_hand_built_rows_without_a_database() -> None:
    metrics = (*(factory.metric(tool_id=f"f{i}") for i in range(5)), factory.growing("up", 2.0))
    tools = (*(factory.tool(m.tool_id) for m in metrics), factory.tool("fb", trackable=False))
    data = factory.report_data(metrics, tools)
    a = analyse(data, data.as_of)
    assert [t.label for t in a.tools] == ["stable"] * 5 + ["rising", "insufficient data"]
    assert a.baselines["downloads"] == {
        "tools": 10, "used": True, "median_r": 1.0, "window_end": "2025-06-15", "sql": "baseline",
    }  # fmt: skip
    assert a.not_trackable == [
        {"tool_id": "fb", "name": "Fb", "skill": "Orchestration", "reason": "no public signal"}
    ]
    assert a.missing[0].startswith("no star history")
    assert a.sources[0]["problems"] == [] and a.sources[0]["last_run_at"] == "2025-06-14T00:00:00"
    assert a.params["as_of"] == "2025-06-15" and a.params["top_n"] == 8
    assert a.charts == {"monthly": {}, "shares": {}, "ranks": {}}
