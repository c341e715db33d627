"""Named SQL of the report's readings: per (tool, metric) monthly points, steps, the two years'
sub-windows, the three readings, the baseline, and the skills' summed series.

`report_queries.QUERIES` lists these with the other report queries (trends.json shows them all).
"""

from __future__ import annotations

__all__ = [
    "BASELINE",
    "METRIC_STATS",
    "MONTHLY",
    "POINTS",
    "READINGS",
    "SKILL_READINGS",
    "SPANS",
    "STATS",
    "STEPS",
    "SUBAGG",
    "SUBS",
]

# ---- per (tool, metric) series in the trend window -------------------------------------------
# value NULL = unknown (before the tool's first data, a download month with too few days, or after
# the newest star week); 0 = a known zero. Downloads use the month's estimate scaled from its
# covered days; a month covered on fewer than $min_coverage of its days is a gap (NULL).
# ---- one read of the views: the months the report looks at, materialised once ---------------
# tool_trends (monthly_metrics with the tool's skill and shares) for the months from $floor_month
# (the oldest month any chart or window needs) to the last complete month; every monthly query
# below reads this table instead of scanning the views (and downloads_daily) again.
MONTHLY = """
CREATE OR REPLACE TEMP TABLE _rpt_monthly AS
SELECT * FROM tool_trends WHERE month >= $floor_month AND month < $cur_month
"""

POINTS = """
CREATE OR REPLACE TEMP TABLE _rpt_points AS
WITH mm AS (
    SELECT * FROM _rpt_monthly
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
STEPS = """
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

# ---- the three readings: later 12 months vs earlier 12 months, per (tool, metric) -----------
# Each metric becomes a daily rate: a star week's gain spread over its 7 days (weeks between a
# tool's first and last complete week that are missing count as 0: the span is known), the
# downloads of a day (all packages, ClickPy preferred; a day without a figure is unknown), and
# releases on their day (known from the tool's first release on). The window ends at $end_<metric>
# (the as-of date, or the newest stored data of that metric when it is older), the later year is
# (end-365, end], the earlier year (end-730, end-365], each cut into $subs_<metric> equal
# sub-windows (12 months; 4 quarters for releases).
SUBS = """
CREATE OR REPLACE TEMP TABLE _rpt_subs AS
WITH ends AS (
    SELECT 'stars' AS metric, $end_stars::DATE AS e, $subs_m::INTEGER AS k
    UNION ALL SELECT 'downloads', $end_downloads::DATE, $subs_m::INTEGER
    UNION ALL SELECT 'releases', $end_releases::DATE, $subs_q::INTEGER
    UNION ALL SELECT 'job_posts', $end_job_posts::DATE, $subs_m::INTEGER
    UNION ALL SELECT 'questions', $end_questions::DATE, $subs_m::INTEGER
), days AS (  -- o = day offset in the two years (0 = the oldest day, e - 729)
    SELECT metric, e, k, o::INTEGER AS o FROM ends, range(730) r(o)
)
SELECT metric, e, k, o >= 365 AS later, ((o % 365) * k) // 365 AS sub,
       (e - 729 + min(o))::DATE AS lo, (e - 729 + max(o))::DATE AS hi, count(*) AS length
FROM days GROUP BY metric, e, k, later, sub
"""

SPANS = """
CREATE OR REPLACE TEMP TABLE _rpt_spans AS
SELECT tool_id, 'stars' AS metric, min(week_start) AS first_day, max(week_start) + 6 AS last_day
FROM star_history WHERE week_start + 6 <= $as_of GROUP BY tool_id
UNION ALL
SELECT tool_id, 'releases', min(released_at)::DATE, $end_releases::DATE FROM releases
WHERE released_at IS NOT NULL AND NOT is_prerelease AND NOT is_yanked GROUP BY tool_id
"""

# Per (tool, metric, year, sub-window): the total and the days known. Stars: the weeks between a
# tool's first and last complete week are known (a missing week is 0); downloads: the days with
# a figure; releases: the days since the tool's first release.
SUBAGG = """
CREATE OR REPLACE TEMP TABLE _rpt_subagg AS
WITH pts AS (
    SELECT tool_id, 'stars' AS metric, (week_start + r.k::INTEGER) AS day,
           stars_added / 7.0 AS v
    FROM star_history, range(7) r(k)
    WHERE week_start + 6 <= $as_of AND week_start > $end_stars - 736 AND week_start <= $end_stars
    UNION ALL
    SELECT tool_id, 'downloads', day, sum(downloads)::DOUBLE FROM downloads_preferred
    WHERE day > $end_downloads - 730 AND day <= $end_downloads GROUP BY ALL
    UNION ALL
    SELECT tool_id, 'releases', released_at::DATE,
           count(DISTINCT regexp_replace(lower(version), '^v', ''))::DOUBLE
    FROM releases
    WHERE released_at IS NOT NULL AND NOT is_prerelease AND NOT is_yanked
      AND released_at::DATE > $end_releases - 730 AND released_at::DATE <= $end_releases
    GROUP BY ALL
    UNION ALL  -- demand: a month's mentions spread over its days (complete months only)
    SELECT tool_id, CASE source WHEN 'hn' THEN 'job_posts' ELSE 'questions' END,
           (month + r.k::INTEGER)::DATE,
           mentions / datediff('day', month, (month + INTERVAL 1 MONTH)::DATE)
    FROM demand_monthly, range(31) r(k)
    WHERE r.k < datediff('day', month, (month + INTERVAL 1 MONTH)::DATE)
      AND (month + INTERVAL 1 MONTH)::DATE <= $as_of_next
      AND month > least($end_job_posts, $end_questions) - 760
), ends AS (SELECT DISTINCT metric, e, k FROM _rpt_subs),
vals AS (
    SELECT p.tool_id, p.metric, datediff('day', e.e - 729, p.day) AS o, p.v, e.k
    FROM pts p JOIN ends e USING (metric)
    WHERE p.day > e.e - 730 AND p.day <= e.e
), agg AS (
    SELECT tool_id, metric, o >= 365 AS later, ((o % 365) * k) // 365 AS sub,
           sum(v) AS total, count(*) AS days
    FROM vals GROUP BY ALL
), grid AS (  -- every sub-window of a tool with data in the window
    SELECT t.tool_id, s.* FROM (SELECT DISTINCT tool_id, metric FROM agg) t
    JOIN _rpt_subs s USING (metric)
)
SELECT g.tool_id, g.metric, g.sub, g.later, g.length, coalesce(a.total, 0) AS total,
       CASE WHEN g.metric IN ('downloads', 'job_posts', 'questions') THEN coalesce(a.days, 0)
            ELSE greatest(0, datediff('day', greatest(g.lo, sp.first_day),
                                       least(g.hi, sp.last_day)) + 1)
       END AS known
FROM grid g
LEFT JOIN agg a USING (tool_id, metric, later, sub)
LEFT JOIN _rpt_spans sp USING (tool_id, metric)
"""

READINGS = """
CREATE OR REPLACE TEMP TABLE _rpt_readings AS
WITH sub AS (  -- a sub-window counts when at least half of it is known
    SELECT *, total / nullif(known, 0) AS rate, known * 2 >= length AS usable FROM _rpt_subagg
), yr AS (
    SELECT tool_id, metric,
           sum(total) FILTER (WHERE NOT later) AS earlier_total,
           sum(known) FILTER (WHERE NOT later) AS earlier_known,
           sum(length) FILTER (WHERE NOT later) AS earlier_length,
           sum(total) FILTER (WHERE later) AS later_total,
           sum(known) FILTER (WHERE later) AS later_known,
           sum(length) FILTER (WHERE later) AS later_length,
           median(rate) FILTER (WHERE NOT later AND usable) AS earlier_median,
           median(rate) FILTER (WHERE later AND usable) AS later_median,
           count(*) FILTER (WHERE NOT later AND usable) AS earlier_subs,
           count(*) FILTER (WHERE later AND usable) AS later_subs,
           max(k) AS k
    FROM sub JOIN (SELECT DISTINCT metric, k FROM _rpt_subs) USING (metric)
    GROUP BY ALL
)
SELECT tool_id, metric, k AS subs_per_year,
       earlier_total, later_total, earlier_known, later_known, earlier_length, later_length,
       earlier_subs, later_subs,
       -- per-year volume at the known rate (what a whole year would hold)
       365.0 * earlier_total / nullif(earlier_known, 0) AS earlier_volume,
       365.0 * later_total / nullif(later_known, 0) AS later_volume,
       (later_total / nullif(later_known, 0)) / nullif(earlier_total / nullif(earlier_known, 0), 0)
         AS r,
       later_median / nullif(earlier_median, 0) AS rm,
       earlier_median, later_median
FROM yr
"""

# the baseline of each metric: the median plain ratio of the tools that can be judged
BASELINE = """
CREATE OR REPLACE TEMP TABLE _rpt_baseline AS
SELECT metric, count(r) AS n_tools, median(r) AS median_r
FROM _rpt_readings
WHERE r IS NOT NULL AND earlier_known >= $min_known * earlier_length
  AND later_known >= $min_known * later_length
  AND earlier_volume >= CASE metric WHEN 'stars' THEN $min_volume_stars
                                    WHEN 'downloads' THEN $min_volume_downloads
                                    WHEN 'releases' THEN $min_volume_releases
                                    ELSE $min_volume_demand END
GROUP BY metric
"""

# ---- flags: spikes, gaps and estimates from the monthly points of the window -----------------
STATS = """
CREATE OR REPLACE TEMP TABLE _rpt_stats AS
WITH agg AS (
    SELECT tool_id, metric,
           count(value) AS n_points,
           min(period) FILTER (WHERE value IS NOT NULL) AS first_period,
           min(t) FILTER (WHERE value IS NOT NULL) AS first_t,
           count(*) FILTER (WHERE estimate) AS estimate_periods,
           max(value) AS max_value,
           arg_max(period, value) AS max_period,
           median(value) AS median_value
    FROM _rpt_points GROUP BY ALL
), gaps AS (
    SELECT p.tool_id, p.metric, count(*) AS gap_periods
    FROM _rpt_points p JOIN agg a USING (tool_id, metric)
    WHERE p.value IS NULL AND p.t > a.first_t GROUP BY ALL
)
SELECT a.*, coalesce(g.gap_periods, 0) AS gap_periods, st.step_period,
       exp(st.step_log) AS step_ratio
FROM agg a
LEFT JOIN gaps g USING (tool_id, metric)
LEFT JOIN _rpt_steps st USING (tool_id, metric)
"""

METRIC_STATS = """
SELECT rd.tool_id, rd.metric, rd.subs_per_year, rd.earlier_volume, rd.later_volume,
       rd.earlier_known, rd.earlier_length, rd.later_known, rd.later_length,
       rd.earlier_subs, rd.later_subs, rd.earlier_total, rd.later_total,
       rd.r, rd.rm, rd.earlier_median, rd.later_median,
       b.median_r AS baseline_r, coalesce(b.n_tools, 0) AS baseline_tools,
       st.first_period, st.estimate_periods, st.gap_periods, st.max_value, st.max_period,
       st.median_value, st.step_period, st.step_ratio,
       CASE rd.metric WHEN 'stars' THEN $end_stars WHEN 'downloads' THEN $end_downloads
                      WHEN 'job_posts' THEN $end_job_posts WHEN 'questions' THEN $end_questions
                      ELSE $end_releases END AS window_end
FROM _rpt_readings rd
LEFT JOIN _rpt_baseline b USING (metric)
LEFT JOIN _rpt_stats st USING (tool_id, metric)
ORDER BY rd.tool_id, rd.metric
"""

# skills: the summed series of the skill's judged tools (_rpt_judged, filled by the analysis)
SKILL_READINGS = """
WITH sub AS (
    SELECT t.skill, a.metric, a.sub, a.later, sum(a.total / nullif(a.known, 0)) AS rate
    FROM _rpt_subagg a JOIN _rpt_judged j USING (tool_id, metric) JOIN tools t USING (tool_id)
    WHERE a.known * 2 >= a.length
    GROUP BY ALL
), yr AS (
    SELECT t.skill, r.metric, count(*) AS tools, sum(r.earlier_volume) AS earlier,
           sum(r.later_volume) AS later
    FROM _rpt_readings r JOIN _rpt_judged j USING (tool_id, metric) JOIN tools t USING (tool_id)
    GROUP BY ALL
), med AS (
    SELECT skill, metric, median(rate) FILTER (WHERE NOT later) AS earlier_median,
           median(rate) FILTER (WHERE later) AS later_median
    FROM sub GROUP BY ALL
)
SELECT yr.skill, yr.metric, yr.tools, yr.earlier, yr.later, med.earlier_median, med.later_median
FROM yr LEFT JOIN med USING (skill, metric) ORDER BY yr.skill, yr.metric
"""
