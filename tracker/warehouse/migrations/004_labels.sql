-- 004: the labels of each report, queryable in SQL. `tracker report` writes
-- them under the writer lock; re-running a report for the same as-of date replaces its rows.
--   metric      stars | downloads | releases (| demand metrics later) | headline (the tool's
--               overall label; `driver` names the metric behind it)
--   label       rising | declining | stable | dormant | insufficient data
--   confidence  normal | low (a label resting on release cadence alone)
--   r, rm, rr   the three readings of the later 12 months vs the earlier 12: plain, typical
--               sub-window (spike-robust), relative to the median tool (r / baseline_r)
--   earlier_per_year, later_per_year   the volume of each year (stars, downloads, releases)
CREATE TABLE tool_labels (
    as_of            DATE NOT NULL,
    tool_id          VARCHAR NOT NULL,
    metric           VARCHAR NOT NULL,
    label            VARCHAR NOT NULL,
    confidence       VARCHAR NOT NULL,
    driver           VARCHAR,
    r                DOUBLE,
    rm               DOUBLE,
    rr               DOUBLE,
    baseline_r       DOUBLE,
    earlier_per_year DOUBLE,
    later_per_year   DOUBLE,
    window_end       DATE,
    reason           VARCHAR NOT NULL,
    written_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (as_of, tool_id, metric)
);

-- The skill-level twin: the label of the skill's summed series, backed by its tools' labels.
CREATE TABLE skill_labels (
    as_of            DATE NOT NULL,
    skill            VARCHAR NOT NULL,
    metric           VARCHAR NOT NULL,
    label            VARCHAR NOT NULL,
    confidence       VARCHAR NOT NULL,
    driver           VARCHAR,
    tools_judged     INTEGER NOT NULL,
    tools_rising     INTEGER NOT NULL,
    tools_declining  INTEGER NOT NULL,
    tools_stable     INTEGER NOT NULL,
    share_rising     DOUBLE,
    share_declining  DOUBLE,
    r                DOUBLE,
    rm               DOUBLE,
    rr               DOUBLE,
    earlier_per_year DOUBLE,
    later_per_year   DOUBLE,
    reason           VARCHAR NOT NULL,
    written_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (as_of, skill, metric)
);
