-- Views, recreated on every write-mode open (CREATE OR REPLACE). Reports read these.

-- One download figure per (tool, package, day). ClickPy is preferred where it has the day: it
-- covers the whole history since 2016 with one counting method, so a series does not change
-- method at pypistats' 180-day horizon; pypistats (without mirrors) fills the days ClickPy lacks
-- (ClickPy lags by a day or two, or is not configured). Written as an anti-join, not a window,
-- so it streams over tens of millions of rows.
CREATE OR REPLACE VIEW downloads_preferred AS
SELECT tool_id, package, day, downloads, source
FROM downloads_daily
WHERE source = 'clickpy'
UNION ALL
SELECT p.tool_id, p.package, p.day, p.downloads, p.source
FROM downloads_daily p
WHERE p.source <> 'clickpy'
  AND NOT EXISTS (
      SELECT 1 FROM downloads_daily c
      WHERE c.source = 'clickpy' AND c.tool_id = p.tool_id AND c.package = p.package
        AND c.day = p.day
  )
QUALIFY row_number() OVER (
    PARTITION BY p.tool_id, p.package, p.day
    ORDER BY CASE p.source WHEN 'pypistats' THEN 0 ELSE 1 END
) = 1;

-- One row per tool and calendar month with any data.
--   stars_added     new stars that month (sum of the weeks starting in it); NULL: no star data
--   downloads       downloads that month, all of the tool's packages summed (old + new names)
--   releases        distinct stable, non-yanked versions released that month (all sources)
--   download_days   days of the month with a download figure (coverage; < days_in_month = gap)
--   days_in_month   calendar days of the month
--   downloads_est   downloads scaled to the whole month from the covered days
--                   (= downloads when the month is complete; NULL when no day is covered)
--   star_source     'github' (exact weekly history), 'snapshot' (derived from counters: an
--                   estimate) or 'mixed'
--   hn_posts        top-level "Ask HN: Who is hiring?" job posts naming the tool that month
--                   (NULL: the month's thread was not collected)
--   hn_total        the thread's top-level job posts (the denominator of hn_posts)
--   so_questions    Stack Overflow questions with one of the tool's tags, summed over its tags
--                   (a question carrying two of them counts twice); NULL: not collected
--   so_total        every question asked on Stack Overflow that month
-- A month with demand data only has NULL stars/downloads and releases = 0, as before.
CREATE OR REPLACE VIEW monthly_metrics AS
WITH stars AS (
    SELECT tool_id, date_trunc('month', week_start)::DATE AS month,
           sum(stars_added) AS stars_added,
           CASE WHEN min(source) = max(source) THEN min(source) ELSE 'mixed' END AS star_source
    FROM star_history GROUP BY ALL
), dl AS (
    SELECT tool_id, date_trunc('month', day)::DATE AS month, sum(downloads) AS downloads,
           count(DISTINCT day) AS download_days
    FROM downloads_preferred GROUP BY ALL
), rel AS (
    SELECT tool_id, date_trunc('month', released_at)::DATE AS month,
           count(DISTINCT regexp_replace(lower(version), '^v', '')) AS releases
    FROM releases
    WHERE released_at IS NOT NULL AND NOT is_prerelease AND NOT is_yanked
    GROUP BY ALL
), demand AS (
    SELECT tool_id, month,
           max(mentions) FILTER (WHERE source = 'hn') AS hn_posts,
           max(total) FILTER (WHERE source = 'hn') AS hn_total,
           max(mentions) FILTER (WHERE source = 'stackoverflow') AS so_questions,
           max(total) FILTER (WHERE source = 'stackoverflow') AS so_total
    FROM demand_monthly GROUP BY ALL
), months AS (
    SELECT tool_id, month FROM stars
    UNION SELECT tool_id, month FROM dl
    UNION SELECT tool_id, month FROM rel
    UNION SELECT tool_id, month FROM demand
)
SELECT m.tool_id, m.month, s.stars_added, d.downloads, coalesce(r.releases, 0) AS releases,
       coalesce(d.download_days, 0) AS download_days,
       datediff('day', m.month, (m.month + INTERVAL 1 MONTH)::DATE) AS days_in_month,
       CASE WHEN d.download_days > 0
            THEN round(d.downloads * datediff('day', m.month, (m.month + INTERVAL 1 MONTH)::DATE)
                       / d.download_days)::BIGINT
       END AS downloads_est,
       s.star_source,
       dm.hn_posts, dm.hn_total, dm.so_questions, dm.so_total
FROM months m
LEFT JOIN stars s USING (tool_id, month)
LEFT JOIN dl d USING (tool_id, month)
LEFT JOIN rel r USING (tool_id, month)
LEFT JOIN demand dm USING (tool_id, month);

-- monthly_metrics with the tool's name and skill, and its share of its skill's new stars and
-- (estimated) downloads that month (0..1; NULL when the skill has none that month).
CREATE OR REPLACE VIEW tool_trends AS
SELECT t.tool_id, t.name, t.skill, m.month, m.stars_added, m.downloads, m.downloads_est,
       m.releases, m.download_days, m.days_in_month, m.star_source,
       m.stars_added / nullif(sum(m.stars_added) OVER (PARTITION BY t.skill, m.month), 0)
           AS stars_share,
       m.downloads_est / nullif(sum(m.downloads_est) OVER (PARTITION BY t.skill, m.month), 0)
           AS downloads_share,
       m.hn_posts, m.hn_total, m.so_questions, m.so_total
FROM tools t JOIN monthly_metrics m USING (tool_id);

-- Per skill and month: totals over the skill's tools, and how many tools reported each metric.
CREATE OR REPLACE VIEW skill_trends AS
SELECT skill, month, sum(stars_added) AS stars_added, sum(downloads) AS downloads,
       sum(downloads_est) AS downloads_est, sum(releases) AS releases,
       count(DISTINCT tool_id) AS tools,
       count(stars_added) AS tools_with_stars,
       count(downloads) AS tools_with_downloads
FROM tool_trends GROUP BY ALL;

-- The labels of the newest report (tool_labels / skill_labels keep every report's as-of date).
CREATE OR REPLACE VIEW latest_tool_labels AS
SELECT l.*, t.name, t.skill FROM tool_labels l JOIN tools t USING (tool_id)
WHERE l.as_of = (SELECT max(as_of) FROM tool_labels);

CREATE OR REPLACE VIEW latest_skill_labels AS
SELECT * FROM skill_labels WHERE as_of = (SELECT max(as_of) FROM skill_labels);

-- When a tool is stale in a source: one span per collection error of the tool (run_errors with a
-- tool_id), from the time the error was recorded (recorded_at) until the end (finished_at) of the
-- source's first ok or partial run started after it; stale_until NULL: no such run yet. An
-- interrupted run counts neither way: its "not collected (stop requested)" errors open no span
-- and it ends none. A tool is stale as of T when one of its spans holds T:
--   stale_from <= T AND (stale_until IS NULL OR stale_until > T)
-- `tracker status` uses T = its clock's now, the report T = the end of its as-of day (both read
-- warehouse/status.py STALE_TOOLS_AT). Spans of one tool may overlap (it failed again).
CREATE OR REPLACE VIEW tool_stale_spans AS
SELECT e.source, e.tool_id, e.error, e.recorded_at AS stale_from,
       (SELECT min(ok.finished_at) FROM runs ok
        WHERE ok.source = e.source AND ok.status IN ('ok', 'partial')
          AND ok.started_at > e.recorded_at) AS stale_until
FROM run_errors e JOIN runs r USING (run_id)
WHERE e.tool_id IS NOT NULL AND r.status <> 'interrupted';
