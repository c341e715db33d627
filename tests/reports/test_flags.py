"""Data-quality flags of a tool, from hand-built rows (no database)."""

from __future__ import annotations

from datetime import date

from tests.reports.factory import growing, metric, tool
from tracker.reports.flags import tool_flags
from tracker.reports.readings import metric_trend
from tracker.reports.rows import StaleRow


def test_every_kind_of_flag_in_the_report_order() -> None:
    metrics = {
        "downloads": metric_trend(
            growing("t", 2.8, step_period=date(2021, 4, 1), step_ratio=2.8, gap_periods=2,
                    estimate_periods=1)
        ),
        "stars": metric_trend(
            metric(metric="stars", max_value=900.0, median_value=100.0, max_period=date(2025, 2, 1))
        ),
    }  # fmt: skip
    t = tool(
        "t",
        full_name="new/t",
        catalog_name="o/t",
        formerly=["old/t"],
        pypi_packages=["t", "t-old"],
        archived=True,
        in_catalog=False,
    )
    flags = tool_flags(t, metrics, [StaleRow("t", "github", "rate limit (403)")])
    assert [f["kind"] for f in flags] == [
        "step", "gap", "estimate", "spike", "renamed", "renamed", "packages", "archived",
        "catalog", "stale",
    ]  # fmt: skip
    assert flags[0]["text"] == (
        "downloads: level shift x2.8 in 2021-04 (PyPI's April 2021 counting change); "
        "kept in the readings (news, not noise)"
    )
    assert flags[3]["text"].startswith("stars: one-off spike in 2025-02 (x9.0 the median month)")
    assert flags[-1] == {
        "kind": "stale",
        "text": "last github collection failed",
        "detail": "rate limit (403)",
    }


def test_a_tracked_tool_without_data_is_flagged_once() -> None:
    flags = tool_flags(tool("t", n_releases=0), {}, [])
    assert flags == [{"kind": "no-data", "text": "no stars, downloads or releases stored"}]
    assert tool_flags(tool("t", n_releases=0, trackable=False), {}, []) == []
