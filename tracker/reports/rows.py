"""The report's input: typed rows of the named queries (warehouse/report_queries.py).

`load.load` fills a `ReportData`; the analysis reads nothing else. Each row class names the
columns of its query: rows are built by column name, and a query whose columns differ from its
class fails loudly instead of shifting values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tracker.warehouse import report_queries as rq

__all__ = [
    "ChartMonthRow",
    "ChartRankRow",
    "ChartShareRow",
    "MetricRow",
    "ReportData",
    "SkillGrowthRow",
    "SkillReadingRow",
    "SkillShareRow",
    "SourceRow",
    "StaleRow",
    "TableCount",
    "ToolRow",
]


@dataclass(frozen=True, slots=True)
class MetricRow:
    """`metric_stats`: one (tool, metric): the two years' totals, known days and medians."""

    tool_id: str
    metric: str
    subs_per_year: int
    earlier_volume: float | None  # per year at the known rate
    later_volume: float | None
    earlier_known: float | None  # days
    earlier_length: float | None
    later_known: float | None
    later_length: float | None
    earlier_subs: int | None  # usable sub-windows
    later_subs: int | None
    earlier_total: float | None
    later_total: float | None
    r: float | None
    rm: float | None
    earlier_median: float | None  # per day
    later_median: float | None
    baseline_r: float | None
    baseline_tools: int
    first_period: date | None
    estimate_periods: int | None
    gap_periods: int | None
    max_value: float | None
    max_period: date | None
    median_value: float | None
    step_period: date | None
    step_ratio: float | None
    window_end: date | None


@dataclass(frozen=True, slots=True)
class ToolRow:
    """`tools`: a tool of the catalog with its newest snapshot and what is stored for it."""

    tool_id: str
    name: str
    skill: str
    skill_title: str
    skill_position: int
    trackable: bool
    notes: str | None
    github_repo: str | None
    pypi_packages: list[str] | None
    apache_project: str | None
    formerly: list[str] | None
    in_catalog: bool
    full_name: str | None
    catalog_name: str | None
    description: str | None
    archived: bool | None
    pushed_at: datetime | None  # UTC
    stars: int | None
    observed_at: datetime | None
    last_release_at: datetime | None
    n_releases: int
    release_sources: list[str] | None
    star_weeks: int
    snapshot_weeks: int
    last_star_week: date | None
    packages_with_data: int
    last_download_day: date | None
    download_sources: list[str] | None


@dataclass(frozen=True, slots=True)
class SourceRow:
    """`sources`: per source the newest run, newest success and errors of the last 7 days."""

    source: str
    last_status: str
    last_run_at: datetime | None
    last_success_at: datetime | None
    rate_limited: int
    errors: int


@dataclass(frozen=True, slots=True)
class StaleRow:
    """`stale_tools`: a tool stale in a source at the end of the as-of day (`tool_stale_spans`),
    with the error that made it so."""

    tool_id: str
    source: str
    error: str


@dataclass(frozen=True, slots=True)
class TableCount:
    """`table_rows`: rows stored in a table."""

    tbl: str
    rows: int


@dataclass(frozen=True, slots=True)
class SkillReadingRow:
    """`skill_readings`: the summed series of a skill's judged tools for one metric."""

    skill: str
    metric: str
    tools: int
    earlier: float | None
    later: float | None
    earlier_median: float | None
    later_median: float | None


@dataclass(frozen=True, slots=True)
class SkillShareRow:
    """`skill_shares`: a tool's share of its skill, recent 4 quarters and the 4 before."""

    skill: str
    tool_id: str
    stars_share_recent: float | None
    stars_share_prior: float | None
    dl_share_recent: float | None
    dl_share_prior: float | None
    stars_recent: float | None
    downloads_recent: float | None


@dataclass(frozen=True, slots=True)
class SkillGrowthRow:
    """`skill_growth`: a skill's totals (skill '*': all tools), recent 4 quarters vs 4 before."""

    skill: str
    stars_recent: float | None
    stars_prior: float | None
    downloads_recent: float | None
    downloads_prior: float | None
    releases_recent: float | None
    releases_prior: float | None


@dataclass(frozen=True, slots=True)
class ChartMonthRow:
    """`chart_monthly`: a charted series (a top tool, or '' for the rest) in one month."""

    skill: str
    series: str
    month: date
    stars: float | None
    downloads: float | None
    releases: float | None


@dataclass(frozen=True, slots=True)
class ChartShareRow:
    """`chart_shares`: a charted series' share of its skill in one quarter."""

    skill: str
    series: str
    quarter: date
    stars_share: float | None
    dl_share: float | None
    job_share: float | None
    q_share: float | None


@dataclass(frozen=True, slots=True)
class ChartRankRow:
    """`chart_ranks`: a top tool's rank in its skill's charts."""

    skill: str
    tool_id: str
    rank: int


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything the analysis reads, as of one UTC date."""

    as_of: date
    windows: rq.Windows
    params: dict[str, Any]  # the bound parameters of the queries
    newest: dict[str, date | None]  # per metric, the newest stored data
    metrics: tuple[MetricRow, ...]
    tools: tuple[ToolRow, ...]
    stale: tuple[StaleRow, ...]
    sources: tuple[SourceRow, ...]
    table_rows: tuple[TableCount, ...]
    skill_readings: tuple[SkillReadingRow, ...]
    skill_shares: tuple[SkillShareRow, ...]
    skill_growth: tuple[SkillGrowthRow, ...]
    chart_monthly: tuple[ChartMonthRow, ...]
    chart_shares: tuple[ChartShareRow, ...]
    chart_ranks: tuple[ChartRankRow, ...]
