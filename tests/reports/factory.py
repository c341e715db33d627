"""Hand-built report input (`ReportData` rows) for the pure analysis tests: no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from tracker.reports.load import query_params
from tracker.reports.rows import (
    MetricRow,
    ReportData,
    SkillGrowthRow,
    SkillReadingRow,
    SourceRow,
    TableCount,
    ToolRow,
)
from tracker.warehouse.report_queries import Windows

AS_OF = date(2025, 6, 15)
NEWEST: dict[str, date | None] = {
    "stars": None,
    "downloads": AS_OF,
    "job_posts": None,
    "questions": None,
    "releases": None,
}

_METRIC = MetricRow(
    tool_id="t",
    metric="downloads",
    subs_per_year=12,
    earlier_volume=100_000.0,
    later_volume=100_000.0,
    earlier_known=365,
    earlier_length=365,
    later_known=365,
    later_length=365,
    earlier_subs=12,
    later_subs=12,
    earlier_total=100_000.0,
    later_total=100_000.0,
    r=1.0,
    rm=1.0,
    earlier_median=274.0,
    later_median=274.0,
    baseline_r=1.0,
    baseline_tools=10,
    first_period=date(2023, 7, 1),
    estimate_periods=0,
    gap_periods=0,
    max_value=9000.0,
    max_period=date(2025, 1, 1),
    median_value=8300.0,
    step_period=None,
    step_ratio=None,
    window_end=AS_OF,
)

_TOOL = ToolRow(
    tool_id="t",
    name="T",
    skill="orchestration",
    skill_title="Orchestration",
    skill_position=1,
    trackable=True,
    notes=None,
    github_repo="o/t",
    pypi_packages=["t"],
    apache_project=None,
    formerly=None,
    in_catalog=True,
    full_name="o/t",
    catalog_name="o/t",
    description="a tool",
    archived=False,
    pushed_at=datetime(2025, 6, 1),
    stars=1000,
    observed_at=datetime(2025, 6, 14),
    last_release_at=datetime(2025, 5, 1),
    n_releases=10,
    release_sources=["pypi"],
    star_weeks=0,
    snapshot_weeks=0,
    last_star_week=None,
    packages_with_data=1,
    last_download_day=AS_OF,
    download_sources=["clickpy"],
)


def metric(**changes: Any) -> MetricRow:
    """A judgeable downloads row (flat, 100k a year) with ``changes``."""
    return replace(_METRIC, **changes)


def growing(tool_id: str, factor: float, **changes: Any) -> MetricRow:
    """A downloads row whose plain and typical readings both change by ``factor``."""
    values: dict[str, Any] = {
        "tool_id": tool_id,
        "r": factor,
        "later_volume": 100_000.0 * factor,
        "later_total": 100_000.0 * factor,
        "later_median": 274.0 * factor,
    }
    return metric(**{**values, **changes})


def tool(tool_id: str, **changes: Any) -> ToolRow:
    """A tracked tool of skill orchestration, pushed and released recently, with ``changes``."""
    return replace(_TOOL, tool_id=tool_id, name=tool_id.capitalize(), **changes)


def report_data(
    metrics: tuple[MetricRow, ...],
    tools: tuple[ToolRow, ...],
    **changes: Any,
) -> ReportData:
    """A `ReportData` of these rows as of AS_OF, with one ok clickpy run and downloads stored."""
    params = query_params(AS_OF, NEWEST)
    data = ReportData(
        as_of=AS_OF,
        windows=Windows(params["cur_month"], params["cur_quarter"], 24, 8, 36),
        params=params,
        newest=dict(NEWEST),
        metrics=metrics,
        tools=tools,
        stale=(),
        sources=(SourceRow("clickpy", "ok", datetime(2025, 6, 14), datetime(2025, 6, 14), 0, 0),),
        table_rows=(TableCount("downloads_daily", 1000), TableCount("tools", len(tools))),
        skill_readings=(),
        skill_shares=(),
        skill_growth=(
            SkillGrowthRow("orchestration", 0, 0, 2_000_000, 1_000_000, 4, 4),
            SkillGrowthRow("*", 0, 0, 2_000_000, 1_000_000, 4, 4),
        ),
        chart_monthly=(),
        chart_shares=(),
        chart_ranks=(),
    )
    return replace(data, **changes)


def skill_reading(metric: str, tools: int, earlier: float, later: float) -> SkillReadingRow:
    """The summed series of a skill's judged tools (skill orchestration)."""
    return SkillReadingRow(
        "orchestration", metric, tools, earlier, later, earlier / 365, later / 365
    )
