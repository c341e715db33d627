"""The report's analysis: labels, flags, skill shares and chart series from a `ReportData`.

Pure: no connection, no I/O. `load.load` reads the warehouse; the rules live in `readings.py`
(three readings per metric), `tools.py` (headline, dormancy), `flags.py`, `skills.py`; every
threshold in `thresholds.py` (documented in docs/report.md).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from tracker.reports.label_rows import label_rows
from tracker.reports.model import Analysis, MetricTrend, SkillSummary, ToolTrend
from tracker.reports.readings import judge, metric_trend, rounded
from tracker.reports.rows import ReportData, SourceRow, StaleRow
from tracker.reports.skills import skill_summaries
from tracker.reports.thresholds import (
    DORMANT_MONTHS,
    FALL,
    HEADLINE_ORDER,
    METRICS,
    MIN_BASELINE_TOOLS,
    RISE,
    STALE_DATA_DAYS,
)
from tracker.reports.tools import not_trackable, tool_trend
from tracker.schedule_config import ScheduleConfig, default_schedule_config, freshness

__all__ = [
    "DORMANT_MONTHS",
    "FALL",
    "HEADLINE_ORDER",
    "METRICS",
    "RISE",
    "Analysis",
    "MetricTrend",
    "SkillSummary",
    "ToolTrend",
    "analyse",
    "judge",
    "label_rows",
]

_TABLE_HINTS = {
    "star_history": "no star history: stars per month cannot be judged "
    "(run `tracker collect --source github`)",
    "downloads_daily": "no download figures: downloads per month cannot be judged "
    "(run `tracker collect --source clickpy` or `--source pypistats`)",
    "releases": "no releases: release cadence and dormancy cannot be judged "
    "(run `tracker collect --source pypi --source github --source apache`)",
    "repo_snapshots": "no repository snapshots: archived/last-push (dormancy) unknown "
    "(run `tracker collect --source github`)",
    "tools": "the tools table is empty: run `tracker collect` once to load the catalog",
}


def _is_stale(row: SourceRow, schedule: ScheduleConfig, at: datetime) -> bool:
    """The rule `tracker status` applies: the last success is older than the source's max age
    in the schedule (a source the schedule does not know or disables is never stale)."""
    known = {s.source: s for s in schedule.sources}
    if row.source not in known:
        return False
    return freshness(known[row.source], row.last_success_at, at).state == "stale"


def _source(row: SourceRow, schedule: ScheduleConfig, at: datetime) -> dict[str, Any]:
    problems = []
    last_ok = row.last_success_at
    if last_ok is None:
        problems.append("never succeeded")
    elif _is_stale(row, schedule, at):
        problems.append(f"stale: last success {last_ok:%Y-%m-%d}")
    if row.rate_limited:
        problems.append(f"rate-limited ({row.rate_limited} error(s) in the last 7 days)")
    if row.last_status in ("failed", "interrupted"):
        problems.append(f"last run {row.last_status}")
    return {
        "source": row.source,
        "last_status": row.last_status,
        "last_run_at": rounded(row.last_run_at),
        "last_success_at": rounded(last_ok),
        "errors_7d": int(row.errors),
        "problems": problems,
    }


def _missing(data: ReportData, table_rows: dict[str, int], sources: list[Any]) -> list[str]:
    """What the report cannot show, and why (empty tables, no runs, data older than as-of)."""
    out = [hint for tbl, hint in _TABLE_HINTS.items() if table_rows.get(tbl, 0) == 0]
    if not sources:
        out.append("no collection run is recorded in `runs`")
    stale_data = [
        f"{m} end at {d.isoformat()}"
        for m, d in data.newest.items()
        if d is not None and (data.as_of - d).days > STALE_DATA_DAYS
    ]
    if stale_data:
        out.insert(
            0,
            f"the as-of date {data.as_of.isoformat()} is past the newest stored data "
            f"({'; '.join(stale_data)}): each metric's windows end at its newest data",
        )
    return out


def _charts(data: ReportData) -> dict[str, Any]:
    """Per skill: monthly series, quarterly shares and the ranks of the charted tools."""
    monthly: dict[str, dict[str, list[tuple[str, Any, Any, Any]]]] = {}
    for m in data.chart_monthly:
        monthly.setdefault(m.skill, {}).setdefault(m.series, []).append(
            (m.month.isoformat()[:7], m.stars, m.downloads, m.releases)
        )
    shares: dict[str, dict[str, list[tuple[str, Any, Any, Any, Any]]]] = {}
    for s in data.chart_shares:
        label = f"{s.quarter.year}-Q{(s.quarter.month - 1) // 3 + 1}"
        shares.setdefault(s.skill, {}).setdefault(s.series, []).append(
            (
                label,
                rounded(s.stars_share),
                rounded(s.dl_share),
                rounded(s.job_share),
                rounded(s.q_share),
            )
        )
    ranks: dict[str, dict[str, int]] = {}
    for r in data.chart_ranks:
        ranks.setdefault(r.skill, {})[r.tool_id] = int(r.rank)
    return {"monthly": monthly, "shares": shares, "ranks": ranks}


def _metric_trends(
    data: ReportData,
) -> tuple[dict[str, dict[str, MetricTrend]], dict[str, dict[str, Any]]]:
    """Per tool and metric its trend; per metric the baseline (the median judged tool)."""
    by_tool: dict[str, dict[str, MetricTrend]] = {}
    baselines: dict[str, dict[str, Any]] = {}
    for row in data.metrics:
        by_tool.setdefault(row.tool_id, {})[row.metric] = metric_trend(row)
        baselines[row.metric] = {
            "tools": int(row.baseline_tools),
            "used": int(row.baseline_tools) >= MIN_BASELINE_TOOLS,
            "median_r": rounded(row.baseline_r),
            "window_end": rounded(row.window_end),
            "sql": "baseline",
        }
    return by_tool, baselines


def analyse(data: ReportData, as_of: date, schedule: ScheduleConfig | None = None) -> Analysis:
    """Compute every label, share and chart series of the report as of ``as_of`` (UTC date);
    a source is stale against ``schedule`` (default: the built-in one)."""
    by_tool, baselines = _metric_trends(data)
    stale: dict[str, list[StaleRow]] = {}
    for s in data.stale:
        stale.setdefault(s.tool_id, []).append(s)
    tools = [
        tool_trend(t, by_tool.get(t.tool_id, {}), stale.get(t.tool_id, []), as_of)
        for t in data.tools
    ]
    table_rows = {str(c.tbl): int(c.rows) for c in data.table_rows}
    schedule = schedule or default_schedule_config()
    at = data.params["at"].replace(tzinfo=UTC)  # the end of the as-of day
    sources = [_source(s, schedule, at) for s in data.sources]
    return Analysis(
        as_of,
        data.windows,
        {k: rounded(v) for k, v in data.params.items()},
        tools,
        skill_summaries(data, tools, baselines),
        baselines,
        sources,
        _missing(data, table_rows, sources),
        not_trackable(data.tools),
        table_rows,
        _charts(data),
    )
