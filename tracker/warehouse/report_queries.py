"""Named SQL for the trend report: every figure the report shows comes from one of these queries.

The queries read the views of ``views.sql`` (monthly_metrics, tool_trends, skill_trends) and a few
tables, take their dates and thresholds as bound parameters, and keep intermediate results in
TEMP tables (allowed on a read-only connection). Nothing here loops over rows in Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from tracker.warehouse.report_sql_readings import (
    BASELINE,
    METRIC_STATS,
    MONTHLY,
    POINTS,
    READINGS,
    SKILL_READINGS,
    SPANS,
    STATS,
    STEPS,
    SUBAGG,
    SUBS,
)
from tracker.warehouse.status import STALE_TOOLS_AT

if TYPE_CHECKING:
    import duckdb

__all__ = ["QUERIES", "Windows", "fetch", "fetch_named", "prepare_metric_stats", "set_judged"]


@dataclass(frozen=True, slots=True)
class Windows:
    """The periods a report looks at (all dates are first days of months, UTC)."""

    cur_month: date  # first day of the as-of month: only months before it count (complete)
    cur_quarter: date  # first day of the as-of quarter: only quarters before it count
    months: int  # monthly points in the trend window (stars, downloads)
    quarters: int  # quarterly points in the trend window (releases)
    chart_months: int  # months shown in the charts


# the newest stored data of each metric (the window ends there when the as-of date is later)
_DATA_ENDS = """
SELECT (SELECT max(week_start) + 6 FROM star_history WHERE week_start + 6 <= $as_of) AS stars,
       (SELECT max(day) FROM downloads_daily WHERE day <= $as_of) AS downloads,
       (SELECT max((month + INTERVAL 1 MONTH)::DATE - 1) FROM demand_monthly
          WHERE source = 'hn' AND (month + INTERVAL 1 MONTH)::DATE <= $as_of_next) AS job_posts,
       (SELECT max((month + INTERVAL 1 MONTH)::DATE - 1) FROM demand_monthly
          WHERE source = 'stackoverflow' AND (month + INTERVAL 1 MONTH)::DATE <= $as_of_next)
         AS questions,
       (SELECT max(released_at)::DATE FROM releases WHERE released_at < $as_of_next) AS releases,
       (SELECT max(finished_at)::DATE FROM runs WHERE status IN ('ok', 'partial')
          AND source IN ('pypi', 'github', 'apache') AND started_at < $as_of_next) AS releases_run
"""

_TOOLS = """
WITH snap AS (
    SELECT tool_id, arg_max(archived, observed_at) AS archived,
           arg_max(pushed_at, observed_at) AS pushed_at, arg_max(stars, observed_at) AS stars,
           arg_max(repo, observed_at) AS snap_repo, max(observed_at) AS observed_at
    FROM repo_snapshots WHERE observed_at < $as_of_next GROUP BY tool_id
), rel AS (
    SELECT tool_id, max(released_at) AS last_release_at, count(*) AS n_releases,
           list(DISTINCT source ORDER BY source) AS release_sources
    FROM releases WHERE released_at < $as_of_next GROUP BY tool_id
), st AS (
    SELECT tool_id, count(*) AS star_weeks,
           count(*) FILTER (WHERE source = 'snapshot') AS snapshot_weeks,
           max(week_start) AS last_star_week
    FROM star_history WHERE week_start < $as_of_next GROUP BY tool_id
), dl AS (
    SELECT tool_id, count(DISTINCT package) AS packages_with_data, max(day) AS last_download_day,
           list(DISTINCT source ORDER BY source) AS download_sources
    FROM downloads_daily WHERE day < $as_of_next GROUP BY tool_id
)
SELECT t.tool_id, t.name, t.skill, coalesce(sk.title, t.skill) AS skill_title,
       coalesce(sk.position, 9999) AS skill_position, t.trackable, t.notes, t.github_repo,
       t.pypi_packages, t.apache_project, t.formerly, t.in_catalog,
       ri.full_name, ri.catalog_name, ri.description,
       snap.archived, snap.pushed_at, snap.stars, snap.observed_at,
       rel.last_release_at, coalesce(rel.n_releases, 0) AS n_releases, rel.release_sources,
       coalesce(st.star_weeks, 0) AS star_weeks, coalesce(st.snapshot_weeks, 0) AS snapshot_weeks,
       st.last_star_week,
       coalesce(dl.packages_with_data, 0) AS packages_with_data, dl.last_download_day,
       dl.download_sources
FROM tools t
LEFT JOIN skills sk USING (skill)
LEFT JOIN repo_identities ri USING (tool_id)
LEFT JOIN snap USING (tool_id)
LEFT JOIN rel USING (tool_id)
LEFT JOIN st USING (tool_id)
LEFT JOIN dl USING (tool_id)
ORDER BY skill_position, t.skill, lower(t.name)
"""

_TABLE_ROWS = """
SELECT 'star_history' AS tbl, count(*) FROM star_history
UNION ALL SELECT 'downloads_daily', count(*) FROM downloads_daily
UNION ALL SELECT 'releases', count(*) FROM releases
UNION ALL SELECT 'repo_snapshots', count(*) FROM repo_snapshots
UNION ALL SELECT 'tools', count(*) FROM tools
"""

# per source: newest run, newest success (ended by $at, as warehouse/status.py reads it), and
# errors of the last 7 days that mention rate limits
_SOURCES = """
WITH r AS (
    SELECT source, arg_max(status, run_id) AS last_status, max(started_at) AS last_run_at,
           max(finished_at) FILTER (WHERE status IN ('ok', 'partial') AND finished_at <= $at)
             AS last_success_at
    FROM runs WHERE started_at < $as_of_next GROUP BY source
), e AS (
    SELECT source,
           count(*) FILTER (WHERE error ILIKE '%rate limit%' OR error ILIKE '%ratelimit%'
                            OR error ILIKE '%429%') AS rate_limited,
           count(*) AS errors
    FROM run_errors
    WHERE recorded_at < $as_of_next AND recorded_at >= $as_of_next - INTERVAL 7 DAY
    GROUP BY source
)
SELECT r.source, r.last_status, r.last_run_at, r.last_success_at,
       coalesce(e.rate_limited, 0), coalesce(e.errors, 0)
FROM r LEFT JOIN e USING (source) ORDER BY r.source
"""

# ---- skills: each tool's share of its skill, recent 4 quarters vs the 4 before ----------------
_SKILL_SHARES = """
WITH tq AS (
    SELECT skill, tool_id, month >= $recent_start AS recent,
           sum(stars_added) AS stars, sum(downloads_est) AS downloads
    FROM _rpt_monthly WHERE month >= $prior_start AND month < $cur_quarter GROUP BY ALL
), sh AS (
    SELECT *, stars / nullif(sum(stars) OVER (PARTITION BY skill, recent), 0) AS stars_share,
           downloads / nullif(sum(downloads) OVER (PARTITION BY skill, recent), 0) AS dl_share
    FROM tq
)
SELECT skill, tool_id,
       max(stars_share) FILTER (WHERE recent) AS stars_share_recent,
       max(stars_share) FILTER (WHERE NOT recent) AS stars_share_prior,
       max(dl_share) FILTER (WHERE recent) AS dl_share_recent,
       max(dl_share) FILTER (WHERE NOT recent) AS dl_share_prior,
       max(stars) FILTER (WHERE recent) AS stars_recent,
       max(downloads) FILTER (WHERE recent) AS downloads_recent
FROM sh GROUP BY ALL ORDER BY skill, tool_id
"""

# skill totals recent 4 quarters vs the 4 before, and the same for all tools together
_SKILL_GROWTH = """
WITH s AS (
    SELECT skill, month >= $recent_start AS recent, sum(stars_added) AS stars,
           sum(downloads_est) AS downloads, sum(releases) AS releases
    FROM _rpt_monthly WHERE month >= $prior_start AND month < $cur_quarter GROUP BY ALL
), g AS (
    SELECT skill,
           max(stars) FILTER (WHERE recent) AS stars_recent,
           max(stars) FILTER (WHERE NOT recent) AS stars_prior,
           max(downloads) FILTER (WHERE recent) AS downloads_recent,
           max(downloads) FILTER (WHERE NOT recent) AS downloads_prior,
           max(releases) FILTER (WHERE recent) AS releases_recent,
           max(releases) FILTER (WHERE NOT recent) AS releases_prior
    FROM s GROUP BY skill
)
SELECT skill, stars_recent, stars_prior, downloads_recent, downloads_prior, releases_recent,
       releases_prior FROM g
UNION ALL
SELECT '*', sum(stars_recent), sum(stars_prior), sum(downloads_recent), sum(downloads_prior),
       sum(releases_recent), sum(releases_prior) FROM g
"""

# ---- chart data: top N tools per skill by their best share of the last 12 months, rest 'other'
_CHART_RANK = """
CREATE OR REPLACE TEMP TABLE _rpt_rank AS
WITH recent AS (
    SELECT skill, tool_id, sum(stars_added) AS stars, sum(downloads_est) AS downloads
    FROM _rpt_monthly WHERE month >= $cur_month - INTERVAL 12 MONTH AND month < $cur_month
    GROUP BY ALL
), sh AS (
    SELECT skill, tool_id,
           greatest(coalesce(stars / nullif(sum(stars) OVER (PARTITION BY skill), 0), 0),
                    coalesce(downloads / nullif(sum(downloads) OVER (PARTITION BY skill), 0), 0))
             AS weight
    FROM recent
)
SELECT skill, tool_id, weight,
       row_number() OVER (PARTITION BY skill ORDER BY weight DESC, tool_id) AS rank
FROM sh
"""

_CHART_MONTHLY = """
SELECT t.skill, CASE WHEN r.rank <= $top_n THEN t.tool_id ELSE '' END AS series, t.month,
       sum(t.stars_added) AS stars, sum(t.downloads_est) AS downloads,
       sum(t.releases) AS releases
FROM _rpt_monthly t LEFT JOIN _rpt_rank r USING (skill, tool_id)
WHERE t.month >= $chart_start AND t.month < $cur_month
GROUP BY ALL ORDER BY t.skill, series, t.month
"""

_CHART_SHARES = """
WITH q AS (
    SELECT t.skill, CASE WHEN r.rank <= $top_n THEN t.tool_id ELSE '' END AS series,
           date_trunc('quarter', t.month)::DATE AS quarter,
           sum(t.stars_added) AS stars, sum(t.downloads_est) AS downloads,
           sum(t.hn_posts) AS job_posts, sum(t.so_questions) AS questions
    FROM _rpt_monthly t LEFT JOIN _rpt_rank r USING (skill, tool_id)
    WHERE t.month >= $share_start AND t.month < $cur_quarter
    GROUP BY ALL
)
SELECT skill, series, quarter,
       stars / nullif(sum(stars) OVER (PARTITION BY skill, quarter), 0) AS stars_share,
       downloads / nullif(sum(downloads) OVER (PARTITION BY skill, quarter), 0) AS dl_share,
       job_posts / nullif(sum(job_posts) OVER (PARTITION BY skill, quarter), 0) AS job_share,
       questions / nullif(sum(questions) OVER (PARTITION BY skill, quarter), 0) AS q_share
FROM q ORDER BY skill, series, quarter
"""

_CHART_RANKS = "SELECT skill, tool_id, rank FROM _rpt_rank WHERE rank <= $top_n ORDER BY ALL"

QUERIES: dict[str, str] = {
    "monthly": MONTHLY,
    "points": POINTS,
    "steps": STEPS,
    "stats": STATS,
    "subs": SUBS,
    "spans": SPANS,
    "subagg": SUBAGG,
    "readings": READINGS,
    "baseline": BASELINE,
    "metric_stats": METRIC_STATS,
    "data_ends": _DATA_ENDS,
    "skill_readings": SKILL_READINGS,
    "tools": _TOOLS,
    "table_rows": _TABLE_ROWS,
    "sources": _SOURCES,
    "stale_tools": STALE_TOOLS_AT,  # warehouse/status.py: the one "stale tool" rule
    "skill_shares": _SKILL_SHARES,
    "skill_growth": _SKILL_GROWTH,
    "chart_rank": _CHART_RANK,
    "chart_ranks": _CHART_RANKS,
    "chart_monthly": _CHART_MONTHLY,
    "chart_shares": _CHART_SHARES,
}


def _params(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    used = set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", sql))
    return {k: v for k, v in params.items() if k in used}


def prepare_metric_stats(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> None:
    """Build the TEMP tables of the per (tool, metric) statistics (points .. baseline)."""
    for name in (
        "monthly", "points", "steps", "stats", "subs", "spans", "subagg", "readings", "baseline",
        "chart_rank",
    ):  # fmt: skip
        sql = QUERIES[name]
        con.execute(sql, _params(sql, params))


def fetch(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """Run the named query with the parameters it uses and return its rows."""
    sql = QUERIES[name]
    return con.execute(sql, _params(sql, params)).fetchall()


def fetch_named(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run the named query; return its column names and its rows."""
    sql = QUERIES[name]
    cur = con.execute(sql, _params(sql, params))
    return [d[0] for d in cur.description], cur.fetchall()


def set_judged(con: duckdb.DuckDBPyConnection, judged: list[tuple[str, str]]) -> None:
    """Fill `_rpt_judged` (tool_id, metric), the judged series `skill_readings` sums per skill."""
    con.execute("CREATE OR REPLACE TEMP TABLE _rpt_judged (tool_id VARCHAR, metric VARCHAR)")
    if judged:
        con.execute(
            "INSERT INTO _rpt_judged SELECT unnest($1), unnest($2)",
            [[j[0] for j in judged], [j[1] for j in judged]],
        )
