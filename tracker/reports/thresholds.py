"""The report's thresholds and metric names: every number the labels depend on (docs/report.md).

Imported by the load (query parameters), the analysis (the rules) and the renderers (the text).
"""

from __future__ import annotations

from datetime import date

# ---- thresholds (docs/report.md explains each) -------------------------------------------------
# A label compares the later 12 months with the earlier 12 in three readings:
#   r   plain ratio of the mean daily rates (stars, downloads, releases per day)
#   rm  spike-robust: ratio of the medians of the sub-windows (12 months; 4 quarters for releases)
#   rr  relative: r divided by the median r of the tools that can be judged (the market's drift)
# rising / declining only when all three clear their margin; everything else with enough data
# is stable, and the reason says which readings disagree.
RISE = {"r": 1.25, "rm": 1.2, "rr": 1.2}  # every reading at or above: rising
FALL = {"r": 0.8, "rm": 1 / 1.2, "rr": 1 / 1.2}  # every reading at or below: declining
MIN_Z = 2.0  # count metrics (stars, releases): the change must stand out of Poisson noise
SUBS = {"stars": 12, "downloads": 12, "releases": 4, "job_posts": 12, "questions": 12}
MIN_KNOWN = 0.25  # each year must be known (data, or a known span) on a quarter of its days
MIN_VOLUME = {  # per year, in the earlier year
    "stars": 24.0,
    "downloads": 3600.0,
    "releases": 4.0,
    "job_posts": 6.0,
    "questions": 12.0,
}
MIN_BASELINE_TOOLS = 5  # judged tools needed before the median tool becomes the baseline
RATIO_CAP = 100.0  # a median that grows from 0 reads as x100
MIN_SKILL_BACKING = 1 / 3  # a skill's label needs tools of that label holding a third of it
LOW_CONFIDENCE = frozenset({"releases"})  # maintenance, not use: never heads "declining" alone
TREND_MONTHS = 24  # monthly points behind the flags (steps, spikes, gaps) and charts
TREND_QUARTERS = 8
CHART_MONTHS = 36  # months drawn in the monthly charts
SHARE_QUARTERS = 12  # quarters drawn in the share charts
MIN_COVERAGE = 0.5  # a download month needs figures for half its days (scaled up), else a gap
STEP_FACTOR = 2.0  # a level shift of x2 (or /2) between 3-period medians is flagged
STEP_MIN_LEVEL = 10.0  # ... when the level is at least this many per month
SPIKE_FACTOR = 4.0  # a month above 4x the window's median month is flagged as a spike
DORMANT_MONTHS = 18  # no release and no push for this long (or archived): dormant
# Not source staleness (a source is stale when its last success is older than its max age in
# the schedule, as `tracker status` says; schedule_config.freshness): the data itself ends this
# many days before the as-of date, e.g. a report asked for a date after the last collect.
STALE_DATA_DAYS = 7  # an as-of date this far past the newest stored data is reported
TOP_N = 8  # tools drawn per skill chart; the rest are summed as "other"
COUNTING_CHANGE_MONTH = date(2021, 4, 1)  # PyPI download counting change (~x2.8)

METRICS = ("stars", "downloads", "releases")  # adoption
DEMAND_METRICS = ("job_posts", "questions")  # demand: hn job posts, Stack Overflow questions
METRIC_TITLES = {
    "stars": "new stars per month",
    "downloads": "downloads per month",
    "releases": "releases per quarter",
    "job_posts": "job posts per month (HN Who is hiring)",
    "questions": "Stack Overflow questions per month",
}
METRIC_WORDS = {
    "stars": "new stars",
    "downloads": "downloads",
    "releases": "releases",
    "job_posts": "job posts",
    "questions": "Stack Overflow questions",
}
# The headline follows the first metric in this order that can be judged.
HEADLINE_ORDER = ("downloads", "stars", "releases")
HEADLINE_WHY = {
    "downloads": "installs measure use; stars measure attention",
    "stars": "no judgeable download series",
    "releases": "no judgeable download or star series; cadence shows maintenance, not adoption",
}
