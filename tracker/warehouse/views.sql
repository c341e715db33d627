-- Views, recreated on every write-mode open (CREATE OR REPLACE). Reports read these.

-- One download figure per (tool, package, day). ClickPy is preferred where it has the day: it
-- covers the whole history since 2016 with one counting method, so a series does not change
-- method at pypistats' 180-day horizon; pypistats (without mirrors) fills the days ClickPy lacks
-- (ClickPy lags by a day or two, or is not configured).
CREATE OR REPLACE VIEW downloads_preferred AS
SELECT tool_id, package, day, downloads, source
FROM downloads_daily
QUALIFY row_number() OVER (
    PARTITION BY tool_id, package, day
    ORDER BY CASE source WHEN 'clickpy' THEN 0 WHEN 'pypistats' THEN 1 ELSE 2 END
) = 1;

CREATE OR REPLACE VIEW monthly_metrics AS
WITH stars AS (
    SELECT tool_id, date_trunc('month', week_start)::DATE AS month, sum(stars_added) AS stars_added
    FROM star_history GROUP BY ALL
), dl AS (
    SELECT tool_id, date_trunc('month', day)::DATE AS month, sum(downloads) AS downloads
    FROM downloads_preferred GROUP BY ALL
), rel AS (
    SELECT tool_id, date_trunc('month', released_at)::DATE AS month, count(DISTINCT version) AS releases
    FROM releases
    WHERE released_at IS NOT NULL AND NOT is_prerelease
    GROUP BY ALL
), months AS (
    SELECT tool_id, month FROM stars
    UNION SELECT tool_id, month FROM dl
    UNION SELECT tool_id, month FROM rel
)
SELECT m.tool_id, m.month, s.stars_added, d.downloads, coalesce(r.releases, 0) AS releases
FROM months m
LEFT JOIN stars s USING (tool_id, month)
LEFT JOIN dl d USING (tool_id, month)
LEFT JOIN rel r USING (tool_id, month);

CREATE OR REPLACE VIEW tool_trends AS
SELECT t.tool_id, t.name, t.skill, m.month, m.stars_added, m.downloads, m.releases
FROM tools t JOIN monthly_metrics m USING (tool_id);

CREATE OR REPLACE VIEW skill_trends AS
SELECT skill, month, sum(stars_added) AS stars_added, sum(downloads) AS downloads,
       sum(releases) AS releases, count(DISTINCT tool_id) AS tools
FROM tool_trends GROUP BY ALL;
