"""A tool's headline: dormancy first, then the first judgeable metric (no database)."""

from __future__ import annotations

from datetime import datetime

from tests.reports.factory import AS_OF, growing, metric, tool
from tracker.reports.readings import metric_trend
from tracker.reports.tools import not_trackable, tool_trend


def test_the_headline_follows_downloads_and_names_the_disagreeing_stars() -> None:
    metrics = {
        "downloads": metric_trend(growing("t", 2.0)),
        "stars": metric_trend(metric(metric="stars")),
    }
    t = tool_trend(tool("t"), metrics, [], AS_OF)
    assert (t.label, t.driver, t.confidence) == ("rising", "downloads", "normal")
    assert t.reason.endswith(
        ". Also: stars say stable; the headline follows downloads (installs measure use; stars "
        "measure attention)"
    )
    assert t.info["pypi_packages"] == ["t"] and t.info["pushed_at"] == "2025-06-01T00:00:00"


def test_dormant_before_any_metric() -> None:
    old = tool("t", pushed_at=datetime(2023, 1, 1), last_release_at=None)
    t = tool_trend(old, {"downloads": metric_trend(growing("t", 2.0))}, [], AS_OF)
    assert (t.label, t.driver) == ("dormant", None)
    assert t.reason == "no push since 2023-01-01 and no release on record (18 months or more)"
    archived = tool_trend(tool("t", archived=True), {}, [], AS_OF)
    assert archived.reason == "the repository is archived"


def test_demand_that_disagrees_is_said() -> None:
    metrics = {
        "downloads": metric_trend(growing("t", 2.0)),
        "job_posts": metric_trend(metric(metric="job_posts", earlier_volume=50.0)),
    }
    t = tool_trend(tool("t"), metrics, [], AS_OF)
    assert t.reason.endswith(". Demand disagrees: downloads rising, job posts stable")


def test_untrackable_tools_are_listed_with_the_catalog_reason() -> None:
    rows = (tool("t"), tool("fb", trackable=False, notes="internal to Meta"))
    assert not_trackable(rows) == [
        {"tool_id": "fb", "name": "Fb", "skill": "Orchestration", "reason": "internal to Meta"}
    ]
    t = tool_trend(rows[1], {}, [], AS_OF)
    assert (t.label, t.reason) == ("insufficient data", "not trackable: internal to Meta")
