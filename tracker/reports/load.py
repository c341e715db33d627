"""Load a report's input from the warehouse: the named queries of report_queries.py, typed.

The only module of the report that touches the connection. Its TEMP tables need a connection
that may create them (a read-only one will do). One step depends on the labels: `skill_readings`
sums the series of each skill's *judged* tools, so the load asks the pure rule
(`readings.is_judged`) which rows those are and hands the set to SQL in `_rpt_judged`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from tracker.reports import rows as rw
from tracker.reports.readings import is_judged
from tracker.reports.thresholds import (
    CHART_MONTHS,
    DEMAND_METRICS,
    MIN_COVERAGE,
    MIN_KNOWN,
    MIN_VOLUME,
    SHARE_QUARTERS,
    STEP_FACTOR,
    STEP_MIN_LEVEL,
    SUBS,
    TOP_N,
    TREND_MONTHS,
    TREND_QUARTERS,
)
from tracker.warehouse import report_queries as rq

if TYPE_CHECKING:
    import duckdb

__all__ = ["load", "query_params"]

_T = TypeVar("_T")

# columns a query leaves unnamed (an expression), by the name DuckDB gives them
_UNNAMED = {
    "COALESCE(e.rate_limited, 0)": "rate_limited",
    "COALESCE(e.errors, 0)": "errors",
    "count_star()": "rows",
}


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, 1)


def query_params(as_of: date, newest: dict[str, date | None]) -> dict[str, Any]:
    """The bound parameters of the report's queries: dates of its windows and thresholds."""
    cur_month = as_of.replace(day=1)
    cur_quarter = as_of.replace(month=3 * ((as_of.month - 1) // 3) + 1, day=1)
    ends = {m: min(as_of, d) if d is not None else as_of for m, d in newest.items()}
    return {
        "as_of": as_of,
        "as_of_next": as_of + timedelta(days=1),
        # "as of" for staleness (tools and sources): the end of the as-of day, naive UTC
        "at": datetime.combine(as_of + timedelta(days=1), time()),
        "end_stars": ends["stars"],
        "end_downloads": ends["downloads"],
        "end_releases": ends["releases"],
        "end_job_posts": ends["job_posts"],
        "end_questions": ends["questions"],
        "min_volume_demand": min(MIN_VOLUME[m] for m in DEMAND_METRICS),
        "subs_m": SUBS["stars"],
        "subs_q": SUBS["releases"],
        "min_known": MIN_KNOWN,
        "cur_month": cur_month,
        "cur_quarter": cur_quarter,
        "months": TREND_MONTHS,
        "quarters": TREND_QUARTERS,
        "min_coverage": MIN_COVERAGE,
        "step_min_level": STEP_MIN_LEVEL,
        "step_factor": STEP_FACTOR,
        "min_volume_stars": MIN_VOLUME["stars"],
        "min_volume_downloads": MIN_VOLUME["downloads"],
        "min_volume_releases": MIN_VOLUME["releases"],
        "recent_start": _add_months(cur_quarter, -12),
        "prior_start": _add_months(cur_quarter, -24),
        "top_n": TOP_N,
        "chart_start": _add_months(cur_month, -CHART_MONTHS),
        "share_start": _add_months(cur_quarter, -3 * SHARE_QUARTERS),
        "floor_month": min(
            _add_months(cur_month, -max(CHART_MONTHS, TREND_MONTHS)),
            _add_months(cur_quarter, -max(3 * SHARE_QUARTERS, 24)),
        ),
    }


def _rows(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any], cls: Callable[..., _T]
) -> tuple[_T, ...]:
    """The rows of query ``name`` as ``cls`` instances, matched by column name."""
    columns, values = rq.fetch_named(con, name, params)
    names = [_UNNAMED.get(c, c) for c in columns]
    wanted = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    if sorted(names) != sorted(wanted):
        raise RuntimeError(f"query {name!r} returns {names}, {cls!r} expects {wanted}")
    return tuple(cls(**dict(zip(names, row, strict=True))) for row in values)


def _newest(con: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, date | None]:
    """Per metric, the newest stored data on or before ``as_of``."""
    base = {"as_of": as_of, "as_of_next": as_of + timedelta(days=1)}
    columns, values = rq.fetch_named(con, "data_ends", base)
    ends = dict(zip(columns, values[0], strict=True))
    releases = (ends["releases"], ends["releases_run"])
    return {
        "stars": ends["stars"],
        "downloads": ends["downloads"],
        "job_posts": ends["job_posts"],
        "questions": ends["questions"],
        "releases": max((d for d in releases if d is not None), default=None),
    }


def _judged(
    metrics: tuple[rw.MetricRow, ...], tools: tuple[rw.ToolRow, ...]
) -> list[tuple[str, str]]:
    """(tool, metric) of the catalog's tools whose metric gets a label, in the tools' order."""
    by_tool: dict[str, list[rw.MetricRow]] = {}
    for m in metrics:
        by_tool.setdefault(m.tool_id, []).append(m)
    return [
        (t.tool_id, m.metric) for t in tools for m in by_tool.get(t.tool_id, []) if is_judged(m)
    ]


def load(con: duckdb.DuckDBPyConnection, as_of: date) -> rw.ReportData:
    """Read everything the report of ``as_of`` (UTC date) needs from ``con``."""
    newest = _newest(con, as_of)
    params = query_params(as_of, newest)
    windows = rq.Windows(
        params["cur_month"], params["cur_quarter"], TREND_MONTHS, TREND_QUARTERS, CHART_MONTHS
    )
    rq.prepare_metric_stats(con, params)
    metrics = _rows(con, "metric_stats", params, rw.MetricRow)
    stale = _rows(con, "stale_tools", params, rw.StaleRow)
    tools = _rows(con, "tools", params, rw.ToolRow)
    rq.set_judged(con, _judged(metrics, tools))
    return rw.ReportData(
        as_of,
        windows,
        params,
        newest,
        metrics,
        tools,
        stale,
        _rows(con, "sources", params, rw.SourceRow),
        _rows(con, "table_rows", params, rw.TableCount),
        _rows(con, "skill_readings", params, rw.SkillReadingRow),
        _rows(con, "skill_shares", params, rw.SkillShareRow),
        _rows(con, "skill_growth", params, rw.SkillGrowthRow),
        _rows(con, "chart_monthly", params, rw.ChartMonthRow),
        _rows(con, "chart_shares", params, rw.ChartShareRow),
        _rows(con, "chart_ranks", params, rw.ChartRankRow),
    )
