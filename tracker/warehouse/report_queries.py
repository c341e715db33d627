"""Named SQL for the trend report: every figure the report shows comes from one of these queries.

The queries read the views of ``views.sql`` (monthly_metrics, tool_trends, skill_trends) and a few
tables, take their dates and thresholds as bound parameters, and keep intermediate results in
TEMP tables (allowed on a read-only connection). Nothing here loops over rows in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

__all__ = ["QUERIES", "Windows", "fetch", "prepare_metric_stats"]


@dataclass(frozen=True, slots=True)
class Windows:
    """The periods a report looks at (all dates are first days of months, UTC)."""

    cur_month: date  # first day of the as-of month: only months before it count (complete)
    cur_quarter: date  # first day of the as-of quarter: only quarters before it count
    months: int  # monthly points in the trend window (stars, downloads)
    quarters: int  # quarterly points in the trend window (releases)
    chart_months: int  # months shown in the charts


# ---- per (tool, metric) series in the trend window -------------------------------------------
# value NULL = unknown (before the tool's first data, a download month with too few days, or after
# the newest star week); 0 = a known zero. Downloads use the month's estimate scaled from its
# covered days; a month covered on fewer than $min_coverage of its days is a gap (NULL).
_POINTS = """
CREATE OR REPLACE TEMP TABLE _rpt_points AS
WITH mm AS (
    SELECT * FROM monthly_metrics WHERE month < $cur_month
), star_span AS (
    SELECT tool_id, min(month) AS s_first, max(month) AS s_last
    FROM mm WHERE stars_added IS NOT NULL GROUP BY tool_id
), dl_tools AS (
    SELECT DISTINCT tool_id FROM mm WHERE download_days > 0
), rel_first AS (
    SELECT tool_id, date_trunc('quarter', min(month))::DATE AS first_q
    FROM mm WHERE releases > 0 GROUP BY tool_id
), rq AS (
    SELECT tool_id, date_trunc('quarter', month)::DATE AS q, sum(releases) AS n
    FROM mm WHERE month < $cur_quarter GROUP BY ALL
), mwin AS (
    SELECT ($cur_month - to_months(i::INTEGER + 1))::DATE AS period, $months - 1 - i AS t
    FROM range($months) r(i)
), qwin AS (
    SELECT ($cur_quarter - to_months(3 * (i::INTEGER + 1)))::DATE AS period, $quarters - 1 - i AS t
    FROM range($quarters) r(i)
)
SELECT s.tool_id, 'stars' AS metric, w.period, w.t,
       CASE WHEN w.period BETWEEN s.s_first AND s.s_last
            THEN coalesce(mm.stars_added, 0) END::DOUBLE AS value,
       coalesce(mm.star_source IN ('snapshot', 'mixed'), false) AS estimate
FROM star_span s CROSS JOIN mwin w
LEFT JOIN mm ON mm.tool_id = s.tool_id AND mm.month = w.period
UNION ALL
SELECT d.tool_id, 'downloads', w.period, w.t,
       CASE WHEN mm.download_days >= $min_coverage * mm.days_in_month
            THEN mm.downloads_est END::DOUBLE,
       coalesce(mm.download_days < mm.days_in_month AND mm.download_days > 0, false)
FROM dl_tools d CROSS JOIN mwin w
LEFT JOIN mm ON mm.tool_id = d.tool_id AND mm.month = w.period
UNION ALL
SELECT f.tool_id, 'releases', w.period, w.t,
       CASE WHEN w.period >= f.first_q THEN coalesce(rq.n, 0) END::DOUBLE, false
FROM rel_first f CROSS JOIN qwin w
LEFT JOIN rq ON rq.tool_id = f.tool_id AND rq.q = w.period
"""

# ---- the largest level shift inside the window (median of 3 periods after vs 3 before) --------
_STEPS = """
CREATE OR REPLACE TEMP TABLE _rpt_steps AS
WITH y AS (
    SELECT tool_id, metric, period, t, ln(1 + greatest(value, 0)) AS y FROM _rpt_points
    WHERE metric <> 'releases'
), w AS (
    SELECT tool_id, metric, period, t,
           median(y) OVER before AS y_before, median(y) OVER after AS y_after,
           count(y) OVER before AS n_before, count(y) OVER after AS n_after,
           y - lag(y) OVER (PARTITION BY tool_id, metric ORDER BY t) AS jump
    FROM y
    WINDOW before AS (PARTITION BY tool_id, metric ORDER BY t
                      ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING),
           after AS (PARTITION BY tool_id, metric ORDER BY t
                     ROWS BETWEEN CURRENT ROW AND 2 FOLLOWING)
), best AS (
    -- the step sits where the medians differ most AND the month-on-month jump agrees (sharp)
    SELECT tool_id, metric,
           arg_max(t, least(abs(y_after - y_before), abs(jump))) AS step_t,
           arg_max(period, least(abs(y_after - y_before), abs(jump))) AS step_period,
           arg_max(y_after - y_before, least(abs(y_after - y_before), abs(jump))) AS step_log
    FROM w
    WHERE n_before = 3 AND n_after = 3 AND sign(jump) = sign(y_after - y_before)
      AND greatest(y_before, y_after) >= ln(1 + $step_min_level)
    GROUP BY ALL
), sized AS (  -- size the step on up to 6 periods either side (steadier than 3)
    SELECT b.tool_id, b.metric, b.step_t, b.step_period,
           median(y.y) FILTER (WHERE y.t >= b.step_t) - median(y.y) FILTER (WHERE y.t < b.step_t)
             AS step_log
    FROM best b JOIN y ON y.tool_id = b.tool_id AND y.metric = b.metric
     AND y.t BETWEEN b.step_t - 6 AND b.step_t + 5
    WHERE abs(b.step_log) >= ln($step_factor)
    GROUP BY ALL
)
SELECT * FROM sized
"""

# ---- step-adjusted log values: a single level shift does not become a trend -------------------
_ADJ = """
CREATE OR REPLACE TEMP TABLE _rpt_adj AS
SELECT p.tool_id, p.metric, p.t, p.value,
       ln(1 + greatest(p.value, 0))
         - CASE WHEN s.step_t IS NOT NULL AND p.t >= s.step_t THEN s.step_log ELSE 0 END AS y
FROM _rpt_points p
LEFT JOIN _rpt_steps s USING (tool_id, metric)
WHERE p.value IS NOT NULL
"""

_PAIRS = """
CREATE OR REPLACE TEMP TABLE _rpt_pairs AS
SELECT a.tool_id, a.metric, (b.y - a.y) AS dy, (b.t - a.t) AS dt
FROM _rpt_adj a JOIN _rpt_adj b
  ON a.tool_id = b.tool_id AND a.metric = b.metric AND a.t < b.t
"""

# ---- per (tool, metric): window sums, YoY, momentum, Theil-Sen slope, Mann-Kendall S ---------
# recent = the last 12 months (4 quarters), prior = the 12 months (4 quarters) before.
# momentum = the last 3 months (1 quarter) vs the 3 months (1 quarter) before: about 90 days.
_STATS = """
CREATE OR REPLACE TEMP TABLE _rpt_stats AS
WITH pts AS (
    SELECT p.*,
           CASE WHEN metric = 'releases' THEN $quarters ELSE $months END AS n_win,
           CASE WHEN metric = 'releases' THEN 4 ELSE 12 END AS yr,
           CASE WHEN metric = 'releases' THEN 1 ELSE 3 END AS mo
    FROM _rpt_points p
), agg AS (
    SELECT tool_id, metric,
           count(value) AS n_points,
           sum(value) AS volume,
           min(period) FILTER (WHERE value IS NOT NULL) AS first_period,
           min(t) FILTER (WHERE value IS NOT NULL) AS first_t,
           avg(value) FILTER (WHERE t >= n_win - yr) AS recent_avg,
           count(value) FILTER (WHERE t >= n_win - yr) AS recent_n,
           avg(value) FILTER (WHERE t >= n_win - 2 * yr AND t < n_win - yr) AS prior_avg,
           count(value) FILTER (WHERE t >= n_win - 2 * yr AND t < n_win - yr) AS prior_n,
           avg(value) FILTER (WHERE t >= n_win - mo) AS mom_recent,
           avg(value) FILTER (WHERE t >= n_win - 2 * mo AND t < n_win - mo) AS mom_prior,
           count(*) FILTER (WHERE estimate) AS estimate_periods,
           max(value) AS max_value,
           arg_max(period, value) AS max_period,
           median(value) AS median_value
    FROM pts GROUP BY ALL
), gaps AS (
    SELECT p.tool_id, p.metric, count(*) AS gap_periods
    FROM _rpt_points p JOIN agg a USING (tool_id, metric)
    WHERE p.value IS NULL AND p.t > a.first_t GROUP BY ALL
), slope AS (
    SELECT tool_id, metric, median(dy / dt) AS slope, sum(sign(dy)) AS mk_s_raw
    FROM _rpt_pairs GROUP BY ALL
), ties AS (
    SELECT tool_id, metric, sum(k * (k - 1) * (2 * k + 5)) AS tie_term
    FROM (SELECT tool_id, metric, count(*) AS k FROM _rpt_adj
          GROUP BY tool_id, metric, round(y, 9) HAVING count(*) > 1)
    GROUP BY ALL
)
SELECT a.*, coalesce(g.gap_periods, 0) AS gap_periods,
       a.recent_avg / nullif(a.prior_avg, 0) AS yoy,
       a.mom_recent / nullif(a.mom_prior, 0) AS momentum,
       s.slope, s.mk_s_raw, coalesce(ti.tie_term, 0) AS tie_term_raw,
       st.step_period, exp(st.step_log) AS step_ratio,
       a.n_points >= CASE WHEN a.metric = 'releases' THEN $min_points_q ELSE $min_points_m END
         AND coalesce(a.volume, 0) >= CASE a.metric WHEN 'stars' THEN $min_volume_stars
                                                 WHEN 'downloads' THEN $min_volume_downloads
                                                 ELSE $min_volume_releases END
         AS eligible
FROM agg a
LEFT JOIN gaps g USING (tool_id, metric)
LEFT JOIN slope s USING (tool_id, metric)
LEFT JOIN ties ti USING (tool_id, metric)
LEFT JOIN _rpt_steps st USING (tool_id, metric)
"""

# ---- the baseline: median slope and median YoY of every eligible tool, per metric ------------
_BASELINE = """
CREATE OR REPLACE TEMP TABLE _rpt_baseline AS
SELECT metric, count(*) AS n_tools,
       median(slope) AS median_slope_all, median(yoy) AS median_yoy_all,
       CASE WHEN count(*) >= $min_baseline_tools THEN median(slope) ELSE 0 END AS baseline_slope,
       CASE WHEN count(*) >= $min_baseline_tools THEN median(yoy) ELSE 1 END AS baseline_yoy
FROM _rpt_stats WHERE eligible GROUP BY metric
"""

# ---- Mann-Kendall S against the baseline trend: signs of (dy - baseline * dt) ----------------
_RELATIVE = """
WITH rel AS (
    SELECT p.tool_id, p.metric, sum(sign(p.dy - b.baseline_slope * p.dt)) AS mk_s_rel
    FROM _rpt_pairs p JOIN _rpt_baseline b USING (metric) GROUP BY ALL
), rel_ties AS (
    SELECT tool_id, metric, sum(k * (k - 1) * (2 * k + 5)) AS tie_term
    FROM (SELECT a.tool_id, a.metric, count(*) AS k FROM _rpt_adj a
          JOIN _rpt_baseline b USING (metric)
          GROUP BY a.tool_id, a.metric, round(a.y - b.baseline_slope * a.t, 9)
          HAVING count(*) > 1)
    GROUP BY ALL
)
SELECT s.tool_id, s.metric, s.n_points, s.volume, s.first_period, s.recent_avg, s.recent_n,
       s.prior_avg, s.prior_n, s.mom_recent, s.mom_prior, s.yoy, s.momentum,
       s.estimate_periods, s.gap_periods, s.max_value, s.max_period, s.median_value,
       s.slope, s.mk_s_raw, s.tie_term_raw, r.mk_s_rel, coalesce(rt.tie_term, 0) AS tie_term_rel,
       s.step_period, s.step_ratio, s.eligible,
       coalesce(b.baseline_slope, 0) AS baseline_slope, coalesce(b.baseline_yoy, 1) AS baseline_yoy,
       coalesce(b.n_tools, 0) AS baseline_tools
FROM _rpt_stats s
LEFT JOIN rel r USING (tool_id, metric)
LEFT JOIN rel_ties rt USING (tool_id, metric)
LEFT JOIN _rpt_baseline b USING (metric)
ORDER BY s.tool_id, s.metric
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

# per source: newest run, newest success, and errors of the last 7 days that mention rate limits
_SOURCES = """
WITH r AS (
    SELECT source, arg_max(status, run_id) AS last_status, max(started_at) AS last_run_at,
           max(finished_at) FILTER (WHERE status IN ('ok', 'partial')) AS last_success_at
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

# tools whose newest error in a source is newer than that source's newest success
_STALE_TOOLS = """
WITH last_err AS (
    SELECT e.source, e.tool_id, max(e.recorded_at) AS at, arg_max(e.error, e.recorded_at) AS error
    FROM run_errors e JOIN runs r USING (run_id)
    WHERE e.tool_id IS NOT NULL AND e.recorded_at < $as_of_next AND r.status <> 'interrupted'
    GROUP BY ALL
), last_ok AS (
    SELECT source, max(finished_at) AS at FROM runs
    WHERE status IN ('ok', 'partial') AND started_at < $as_of_next GROUP BY source
)
SELECT le.tool_id, le.source, le.error FROM last_err le LEFT JOIN last_ok lo USING (source)
WHERE lo.at IS NULL OR le.at >= lo.at ORDER BY le.tool_id, le.source
"""

# ---- skills: each tool's share of its skill, recent 4 quarters vs the 4 before ----------------
_SKILL_SHARES = """
WITH tq AS (
    SELECT skill, tool_id, month >= $recent_start AS recent,
           sum(stars_added) AS stars, sum(downloads_est) AS downloads
    FROM tool_trends WHERE month >= $prior_start AND month < $cur_quarter GROUP BY ALL
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
    FROM skill_trends WHERE month >= $prior_start AND month < $cur_quarter GROUP BY ALL
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
    FROM tool_trends WHERE month >= $cur_month - INTERVAL 12 MONTH AND month < $cur_month
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
FROM tool_trends t LEFT JOIN _rpt_rank r USING (skill, tool_id)
WHERE t.month >= $chart_start AND t.month < $cur_month
GROUP BY ALL ORDER BY t.skill, series, t.month
"""

_CHART_SHARES = """
WITH q AS (
    SELECT t.skill, CASE WHEN r.rank <= $top_n THEN t.tool_id ELSE '' END AS series,
           date_trunc('quarter', t.month)::DATE AS quarter,
           sum(t.stars_added) AS stars, sum(t.downloads_est) AS downloads
    FROM tool_trends t LEFT JOIN _rpt_rank r USING (skill, tool_id)
    WHERE t.month >= $share_start AND t.month < $cur_quarter
    GROUP BY ALL
)
SELECT skill, series, quarter,
       stars / nullif(sum(stars) OVER (PARTITION BY skill, quarter), 0) AS stars_share,
       downloads / nullif(sum(downloads) OVER (PARTITION BY skill, quarter), 0) AS dl_share
FROM q ORDER BY skill, series, quarter
"""

_CHART_RANKS = "SELECT skill, tool_id, rank FROM _rpt_rank WHERE rank <= $top_n ORDER BY ALL"

QUERIES: dict[str, str] = {
    "points": _POINTS,
    "steps": _STEPS,
    "adjusted": _ADJ,
    "pairs": _PAIRS,
    "stats": _STATS,
    "baseline": _BASELINE,
    "metric_stats": _RELATIVE,
    "tools": _TOOLS,
    "table_rows": _TABLE_ROWS,
    "sources": _SOURCES,
    "stale_tools": _STALE_TOOLS,
    "skill_shares": _SKILL_SHARES,
    "skill_growth": _SKILL_GROWTH,
    "chart_rank": _CHART_RANK,
    "chart_ranks": _CHART_RANKS,
    "chart_monthly": _CHART_MONTHLY,
    "chart_shares": _CHART_SHARES,
}


def _params(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if f"${k}" in sql}


def prepare_metric_stats(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> None:
    """Build the TEMP tables of the per (tool, metric) statistics (points .. baseline)."""
    for name in ("points", "steps", "adjusted", "pairs", "stats", "baseline", "chart_rank"):
        sql = QUERIES[name]
        con.execute(sql, _params(sql, params))


def fetch(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """Run the named query with the parameters it uses and return its rows."""
    sql = QUERIES[name]
    return con.execute(sql, _params(sql, params)).fetchall()
