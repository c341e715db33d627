"""A skill's label: its judged tools' summed series, backed by tools of that label (no database)."""

from __future__ import annotations

from tests.reports.factory import growing, metric, report_data, skill_reading, tool
from tracker.reports.analytics import analyse
from tracker.reports.rows import SkillShareRow


def _tools() -> tuple:  # type: ignore[type-arg]
    return tuple(tool(t) for t in ("a", "b", "c"))


def test_a_sum_that_rises_on_a_small_tool_alone_reads_stable() -> None:
    metrics = (
        growing("a", 3.0, later_volume=30_000.0),
        metric(tool_id="b"),
        metric(tool_id="c"),
    )
    data = report_data(
        metrics, _tools(), skill_readings=(skill_reading("downloads", 3, 300_000.0, 450_000.0),)
    )
    skill = analyse(data, data.as_of).skills[0]
    assert skill.label == "stable" and skill.driver == "downloads"
    assert skill.reason == (
        "downloads per month: +50 % year on year, +50 % vs the median tool; the skill's sum says "
        "rising, but its rising tools hold only 13 % of its volume; 3 judged tools: 1 rising "
        "(13 % of the skill's downloads per month), 2 stable (87 % of the skill's downloads per "
        "month)"
    )
    labels = skill.metric_labels["downloads"]
    assert (labels["tools_rising"], labels["tools_stable"], labels["share_rising"]) == (
        1,
        2,
        0.1304,
    )
    assert skill.counts["rising"] == 1 and skill.counts["stable"] == 2


def test_a_sum_backed_by_its_tools_keeps_its_label() -> None:
    metrics = (growing("a", 2.0), growing("b", 2.0), metric(tool_id="c"))
    data = report_data(
        metrics, _tools(), skill_readings=(skill_reading("downloads", 3, 300_000.0, 500_000.0),)
    )
    skill = analyse(data, data.as_of).skills[0]
    assert skill.label == "rising"
    assert skill.growth["downloads_growth"] == 2.0
    assert skill.growth["downloads_growth_relative"] == 1.0


def test_winners_and_losers_by_share_change() -> None:
    shares = (
        SkillShareRow("orchestration", "a", None, None, 0.50, 0.40, None, 5.0),
        SkillShareRow("orchestration", "b", None, None, 0.30, 0.30, None, 3.0),
        SkillShareRow("orchestration", "c", None, None, 0.20, 0.30, None, 2.0),
    )
    data = report_data((), _tools(), skill_shares=shares)
    skill = analyse(data, data.as_of).skills[0]
    assert skill.share_metric == "downloads"
    assert [w["tool_id"] for w in skill.winners] == ["a"]
    assert [w["tool_id"] for w in skill.losers] == ["c"]
    assert skill.winners[0]["downloads_share_change_pp"] == 10.0
    assert skill.label == "insufficient data"
    assert skill.reason == "no tool of this skill can be judged yet"
