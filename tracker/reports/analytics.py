"""Trend labels and skill shares, computed in DuckDB (warehouse/report_queries.py) and judged here.

Python only loops over per-tool summary rows (one per tool and metric), never over daily rows.
Every threshold is a named constant below and documented in docs/report.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tracker.warehouse import report_queries as rq

if TYPE_CHECKING:
    import duckdb

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
]

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
STALE_SOURCE_DAYS = 7  # a source whose newest success is older than this is stale
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


@dataclass(frozen=True, slots=True)
class MetricTrend:
    """One metric's label and the inputs it was computed from (all traceable to SQL)."""

    metric: str
    label: str  # rising | declining | stable | insufficient data
    reason: str
    inputs: dict[str, Any]
    confidence: str = "normal"  # "low": release cadence (maintenance, not use)


@dataclass(slots=True)
class ToolTrend:
    """A tool's headline label, the metric that drives it, per-metric labels and flags."""

    tool_id: str
    name: str
    skill: str
    skill_title: str
    trackable: bool
    label: str
    driver: str | None
    reason: str
    metrics: dict[str, MetricTrend]
    flags: list[dict[str, str]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    confidence: str = "normal"  # "low" when the headline rests on release cadence alone


@dataclass(slots=True)
class SkillSummary:
    """A skill's growth (recent 4 quarters vs 4 before), shares and winners/losers."""

    skill: str
    title: str
    growth: dict[str, Any]
    shares: list[dict[str, Any]]
    winners: list[dict[str, Any]]
    losers: list[dict[str, Any]]
    label: str  # rising | declining | stable | insufficient data (from the headline metric)
    share_metric: str | None
    counts: dict[str, int]
    reason: str = ""
    driver: str | None = None
    metric_labels: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class Analysis:
    """Everything a report shows."""

    as_of: date
    windows: rq.Windows
    params: dict[str, Any]
    tools: list[ToolTrend]
    skills: list[SkillSummary]
    baselines: dict[str, dict[str, Any]]
    sources: list[dict[str, Any]]
    missing: list[str]
    not_trackable: list[dict[str, str]]
    table_rows: dict[str, int]
    charts: dict[str, Any]


def _first_of_month(d: date) -> date:
    return d.replace(day=1)


def _first_of_quarter(d: date) -> date:
    return d.replace(month=3 * ((d.month - 1) // 3) + 1, day=1)


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, 1)


def _r(x: Any, nd: int = 4) -> Any:
    if isinstance(x, float):
        return round(x, nd) if math.isfinite(x) else None
    if isinstance(x, date | datetime):
        return x.isoformat()
    return x


def _ratio(later: float | None, earlier: float | None) -> float | None:
    if later is None or earlier is None:
        return None
    if earlier <= 0:
        return None if later <= 0 else RATIO_CAP
    return min(max(later, 0.0) / earlier, RATIO_CAP)


def _pct(f: float | None) -> str:
    if f is None or not math.isfinite(f):
        return "n/a"
    return f"{(f - 1.0) * 100.0:+.0f} %"


def judge(
    r: float | None, rm: float | None, rr: float | None, z: float | None
) -> tuple[str, list[str]]:
    """Return the label the three readings support and, for stable, why (clauses).

    rising / declining need every reading past its margin (``rr`` None: no baseline, two
    readings) and, for count metrics (``z`` not None), a change that stands out of noise.
    """
    readings = {"r": r, "rm": rm, "rr": rr}
    known = {k: v for k, v in readings.items() if v is not None}
    if r is None:
        return "insufficient data", []
    up = all(v >= RISE[k] for k, v in known.items()) and rm is not None
    down = all(v <= FALL[k] for k, v in known.items()) and rm is not None
    if (up or down) and (z is None or abs(z) >= MIN_Z):
        return ("rising" if up else "declining"), []
    why: list[str] = []
    if up or down:
        why.append("on small numbers the change does not stand out of the noise")
        return "stable", why
    plain_up, plain_down = r >= RISE["r"], r <= FALL["r"]
    if rr is not None:
        rel_up, rel_down = rr >= RISE["rr"], rr <= FALL["rr"]
        if plain_up and not rel_up:
            why.append("in line with the median tool, which grew as much: the market moved")
        elif plain_down and not rel_down:
            why.append("in line with the median tool, which fell as much: the market moved")
        elif rel_up and not plain_up:
            why.append(
                "flat or slower in plain figures, but holding up better than the median tool"
            )
        elif rel_down and not plain_down:
            why.append("flat or growing in plain figures, but behind the median tool")
    if (plain_up or plain_down) and rm is not None:
        typical_up, typical_down = rm >= RISE["rm"], rm <= FALL["rm"]
        if plain_up and not typical_up:
            why.append("the typical period did not rise with it: a few strong periods (a spike)")
        elif plain_down and not typical_down:
            why.append("the typical period did not fall with it: a few weak or unusual periods")
    if rm is None:
        why.append("the typical period is zero in both years")
    if not why:
        why.append("no clear change")
    return "stable", why


def _count_z(metric: str, row: dict[str, Any]) -> float | None:
    """Poisson z of the rate change for count metrics (stars, releases); None for downloads."""
    if metric == "downloads":
        return None
    e = max(float(row["earlier_total"] or 0.0), 0.0)
    lt = max(float(row["later_total"] or 0.0), 0.0)
    ek, lk = float(row["earlier_known"] or 0), float(row["later_known"] or 0)
    if ek <= 0 or lk <= 0:
        return None
    rate_ratio = ((lt + 0.5) / lk) / ((e + 0.5) / ek)
    return math.log(rate_ratio) / math.sqrt(1.0 / (lt + 0.5) + 1.0 / (e + 0.5))


def _metric_trend(metric: str, row: dict[str, Any]) -> MetricTrend:
    unit = "quarter" if metric == "releases" else "month"
    METRIC_TITLES[metric]
    end = row["window_end"]
    r = _ratio(row["r"], 1.0) if row["r"] is not None else None
    rm = _ratio(row["later_median"], row["earlier_median"])
    base_n = int(row["baseline_tools"])
    base_r = float(row["baseline_r"]) if row["baseline_r"] is not None else None
    rr = r / base_r if r is not None and base_r and base_n >= MIN_BASELINE_TOOLS else None
    z = _count_z(metric, row)
    per_year = METRIC_WORDS[metric]
    inputs: dict[str, Any] = {
        "window_end": _r(end),
        "later_year": f"{_r(end - timedelta(days=365))} .. {_r(end)}" if end else None,
        "earlier_year": f"{_r(end - timedelta(days=730))} .. {_r(end - timedelta(days=365))}"
        if end
        else None,
        "period": unit,
        "sub_windows_per_year": int(row["subs_per_year"]),
        "earlier_per_year": _r(row["earlier_volume"], 1),
        "later_per_year": _r(row["later_volume"], 1),
        "earlier_known_days": int(row["earlier_known"] or 0),
        "later_known_days": int(row["later_known"] or 0),
        "earlier_typical_per_day": _r(row["earlier_median"], 4),
        "later_typical_per_day": _r(row["later_median"], 4),
        "r": _r(r),
        "rm": _r(rm),
        "rr": _r(rr),
        "baseline_r": _r(base_r),
        "baseline_tools": base_n,
        "z_counts": _r(z, 2),
        "first_period": _r(row["first_period"]),
        "step_period": _r(row["step_period"]),
        "step_ratio": _r(row["step_ratio"]),
        "spike_period": None,
        "spike_ratio": None,
        "estimate_periods": int(row["estimate_periods"] or 0),
        "gap_periods": int(row["gap_periods"] or 0),
        "sql": "metric_stats",
    }
    med, mx = row["median_value"], row["max_value"]
    if (
        metric != "releases"
        and mx is not None
        and med is not None
        and mx >= STEP_MIN_LEVEL
        and mx > SPIKE_FACTOR * max(med, 1.0)
    ):
        inputs["spike_period"] = _r(row["max_period"])
        inputs["spike_ratio"] = _r(mx / max(med, 1.0), 2)
    confidence = "low" if metric in LOW_CONFIDENCE else "normal"
    why = _insufficient(metric, row)
    if why:
        return MetricTrend(metric, "insufficient data", why, inputs, confidence)
    label, clauses = judge(r, rm, rr, z)
    reason = f"{per_year} {_pct(r)} year on year"
    if rr is not None:
        reason += f", {_pct(rr)} vs the median tool"
    else:
        reason += f" (no baseline: fewer than {MIN_BASELINE_TOOLS} tools can be judged)"
    if label == "rising":
        reason += f"; the typical {unit} rose too ({_pct(rm)})"
    elif label == "declining":
        reason += f"; the typical {unit} fell too ({_pct(rm)})"
    else:
        reason += f"; the typical {unit} {_pct(rm)}: " + "; ".join(clauses)
    if row["step_period"] is not None:
        reason += (
            f"; level shift x{row['step_ratio']:.2g} in {row['step_period']:%Y-%m} "
            "(kept: a tool's own shift is news)"
        )
    if confidence == "low" and label != "stable":
        reason += "; low confidence: release cadence shows maintenance, not use"
    return MetricTrend(metric, label, reason, inputs, confidence)


def _insufficient(metric: str, row: dict[str, Any]) -> str | None:
    """Why ``metric`` cannot be judged (None: it can)."""
    k = int(row["subs_per_year"])
    unit = "quarters" if metric == "releases" else "months"
    e_len, l_len = float(row["earlier_length"] or 365), float(row["later_length"] or 365)
    e_known, l_known = float(row["earlier_known"] or 0), float(row["later_known"] or 0)
    if e_known < MIN_KNOWN * e_len:
        first = row["first_period"]
        since = f" (data since {first:%Y-%m})" if first else ""
        return f"too new to compare: the earlier year is known on {e_known:.0f} of 365 days{since}"
    if l_known < MIN_KNOWN * l_len:
        return f"the later year is known on only {l_known:.0f} of 365 days: collection stopped?"
    need = math.ceil(k * MIN_KNOWN)
    if int(row["earlier_subs"] or 0) < need or int(row["later_subs"] or 0) < need:
        return f"fewer than {need} of {k} {unit} in a year have enough data"
    vol = float(row["earlier_volume"] or 0.0)
    if vol < MIN_VOLUME[metric]:
        return (
            f"too little activity: {vol:.0f} a year in the earlier year "
            f"(needs {MIN_VOLUME[metric]:.0f})"
        )
    return None


def _flags(tool: dict[str, Any], metrics: dict[str, MetricTrend]) -> list[dict[str, str]]:
    flags: list[dict[str, str]] = []
    for m, mt in metrics.items():
        i = mt.inputs
        if i["step_period"]:
            txt = f"{m}: level shift x{i['step_ratio']:.2g} in {i['step_period'][:7]}"
            if m == "downloads" and i["step_period"][:7] == COUNTING_CHANGE_MONTH.isoformat()[:7]:
                txt += " (PyPI's April 2021 counting change)"
            flags.append({"kind": "step", "text": txt + "; kept in the readings (news, not noise)"})
        if i["spike_period"]:
            flags.append(
                {
                    "kind": "spike",
                    "text": f"{m}: one-off spike in {i['spike_period'][:7]} "
                    f"(x{i['spike_ratio']:.1f} the median month); not read as a trend",
                }
            )
        if i["gap_periods"]:
            flags.append(
                {"kind": "gap", "text": f"{m}: {i['gap_periods']} {i['period']}(s) without data"}
            )
        if i["estimate_periods"]:
            what = (
                "derived from star counters, not the weekly history"
                if m == "stars"
                else "scaled from a partly covered month"
            )
            flags.append(
                {"kind": "estimate", "text": f"{m}: {i['estimate_periods']} month(s) {what}"}
            )
    full, cat = tool["full_name"], tool["catalog_name"]
    if full and cat and full.lower() != cat.lower():
        flags.append({"kind": "renamed", "text": f"repo renamed: {cat} now answers as {full}"})
    if tool["formerly"]:
        flags.append({"kind": "renamed", "text": "formerly " + ", ".join(tool["formerly"])})
    if len(tool["pypi_packages"] or ()) > 1:
        flags.append(
            {
                "kind": "packages",
                "text": "downloads sum " + ", ".join(tool["pypi_packages"]) + " (renames/splits)",
            }
        )
    if tool["archived"]:
        flags.append({"kind": "archived", "text": "repository is archived"})
    if not tool["in_catalog"]:
        flags.append({"kind": "catalog", "text": "no longer in the catalog; stored data kept"})
    return flags


def _dormant(tool: dict[str, Any], as_of: date) -> str | None:
    cutoff = datetime.combine(as_of, datetime.min.time()) - timedelta(
        days=round(DORMANT_MONTHS * 30.44)
    )
    if tool["archived"]:
        return "the repository is archived"
    pushed, released = tool["pushed_at"], tool["last_release_at"]
    if pushed is not None and pushed < cutoff and (released is None or released < cutoff):
        last = f"last release {released:%Y-%m-%d}" if released else "no release on record"
        return f"no push since {pushed:%Y-%m-%d} and {last} ({DORMANT_MONTHS} months or more)"
    return None


def _headline(
    tool: dict[str, Any], metrics: dict[str, MetricTrend], as_of: date
) -> tuple[str, str | None, str]:
    dormant = _dormant(tool, as_of)
    if dormant:
        return "dormant", None, dormant
    for m in HEADLINE_ORDER:
        mt = metrics.get(m)
        if mt is None or mt.label == "insufficient data":
            continue
        reason = mt.reason
        others = [
            f"{o} say {metrics[o].label}"
            for o in HEADLINE_ORDER
            if o != m and o in metrics and metrics[o].label not in ("insufficient data", mt.label)
        ]
        if others:
            reason += f". Also: {', '.join(others)}; the headline follows {m} ({HEADLINE_WHY[m]})"
        reason += _demand_disagrees(m, mt.label, metrics)
        return mt.label, m, reason
    if not tool["trackable"]:
        return "insufficient data", None, f"not trackable: {tool['notes'] or 'no public signal'}"
    missing = [m for m in METRICS if m not in metrics]
    why = "; ".join(f"{m}: {mt.reason}" for m, mt in metrics.items())
    if missing:
        why = (why + "; " if why else "") + "no data for " + ", ".join(missing)
    return "insufficient data", None, why


def _demand_disagrees(driver: str, label: str, metrics: Mapping[str, Any]) -> str:
    """'. Demand disagrees: downloads rising, job posts stable' (or '' when it agrees)."""
    judged = ("rising", "declining", "stable")
    other = [
        f"{METRIC_WORDS[d]} {_label_of(metrics[d])}"
        for d in DEMAND_METRICS
        if d in metrics and _label_of(metrics[d]) in judged and _label_of(metrics[d]) != label
    ]
    if not other or label not in judged:
        return ""
    return f". Demand disagrees: {METRIC_WORDS[driver]} {label}, {', '.join(other)}"


def _label_of(m: Any) -> str:
    return str(m["label"] if isinstance(m, dict) else m.label)


def _growth(recent: Any, prior: Any) -> float | None:
    if recent is None or prior is None or not prior:
        return None
    return float(recent) / float(prior)


def analyse(con: duckdb.DuckDBPyConnection, as_of: date) -> Analysis:
    """Compute every label, share and chart series of the report as of ``as_of`` (UTC date)."""
    cur_month = _first_of_month(as_of)
    cur_quarter = _first_of_quarter(as_of)
    windows = rq.Windows(cur_month, cur_quarter, TREND_MONTHS, TREND_QUARTERS, CHART_MONTHS)
    base: dict[str, Any] = {"as_of": as_of, "as_of_next": as_of + timedelta(days=1)}
    ends_row = rq.fetch(con, "data_ends", base)[0]
    newest = {
        "stars": ends_row[0],
        "downloads": ends_row[1],
        "job_posts": ends_row[2],
        "questions": ends_row[3],
        "releases": max((d for d in ends_row[4:] if d is not None), default=None),
    }
    ends = {m: min(as_of, d) if d is not None else as_of for m, d in newest.items()}
    params: dict[str, Any] = {
        **base,
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
    rq.prepare_metric_stats(con, params)
    cols = [
        "tool_id", "metric", "subs_per_year", "earlier_volume", "later_volume",
        "earlier_known", "earlier_length", "later_known", "later_length",
        "earlier_subs", "later_subs", "earlier_total", "later_total",
        "r", "rm", "earlier_median", "later_median", "baseline_r", "baseline_tools",
        "first_period", "estimate_periods", "gap_periods", "max_value", "max_period",
        "median_value", "step_period", "step_ratio", "window_end",
    ]  # fmt: skip
    by_tool: dict[str, dict[str, MetricTrend]] = {}
    baselines: dict[str, dict[str, Any]] = {}
    for raw in rq.fetch(con, "metric_stats", params):
        row = dict(zip(cols, raw, strict=True))
        mt = _metric_trend(row["metric"], row)
        by_tool.setdefault(row["tool_id"], {})[row["metric"]] = mt
        baselines[row["metric"]] = {
            "tools": int(row["baseline_tools"]),
            "used": int(row["baseline_tools"]) >= MIN_BASELINE_TOOLS,
            "median_r": _r(row["baseline_r"]),
            "window_end": _r(row["window_end"]),
            "sql": "baseline",
        }
    stale_data = [
        f"{m} end at {d.isoformat()}"
        for m, d in newest.items()
        if d is not None and (as_of - d).days > STALE_DATA_DAYS
    ]
    tool_cols = [
        "tool_id", "name", "skill", "skill_title", "skill_position", "trackable", "notes",
        "github_repo", "pypi_packages", "apache_project", "formerly", "in_catalog", "full_name",
        "catalog_name", "description", "archived", "pushed_at", "stars", "observed_at",
        "last_release_at", "n_releases", "release_sources", "star_weeks", "snapshot_weeks",
        "last_star_week", "packages_with_data", "last_download_day", "download_sources",
    ]  # fmt: skip
    stale: dict[str, list[str]] = {}
    for tool_id, source, error in rq.fetch(con, "stale_tools", params):
        stale.setdefault(tool_id, []).append(f"{source}: {error}")
    tools: list[ToolTrend] = []
    not_trackable: list[dict[str, str]] = []
    for raw in rq.fetch(con, "tools", params):
        t = dict(zip(tool_cols, raw, strict=True))
        metrics = by_tool.get(t["tool_id"], {})
        label, driver, reason = _headline(t, metrics, as_of)
        flags = _flags(t, metrics)
        for err in stale.get(t["tool_id"], []):
            # the error itself is long and the same for many tools: the text names the source,
            # the detail (trends.json) and the source-health section carry the message
            source, _, detail = err.partition(": ")
            flags.append(
                {"kind": "stale", "text": f"last {source} collection failed", "detail": detail}
            )
        if not t["trackable"]:
            not_trackable.append(
                {
                    "tool_id": t["tool_id"],
                    "name": t["name"],
                    "skill": t["skill_title"],
                    "reason": t["notes"] or "no public signal",
                }
            )
        elif not metrics and t["n_releases"] == 0:
            flags.append({"kind": "no-data", "text": "no stars, downloads or releases stored"})
        info = {
            k: _r(t[k])
            for k in (
                "github_repo",
                "full_name",
                "description",
                "stars",
                "archived",
                "pushed_at",
                "last_release_at",
                "n_releases",
                "last_star_week",
                "last_download_day",
            )
        }
        info["pypi_packages"] = list(t["pypi_packages"] or [])
        low = driver in LOW_CONFIDENCE and label in ("rising", "declining")
        tools.append(
            ToolTrend(
                t["tool_id"],
                t["name"],
                t["skill"],
                t["skill_title"],
                bool(t["trackable"]),
                label,
                driver,
                reason,
                metrics,
                flags,
                info,
                "low" if low else "normal",
            )
        )
    skills = _skills(con, params, tools, baselines)
    table_rows = {str(k): int(v) for k, v in rq.fetch(con, "table_rows", params)}
    sources = _sources(con, params, as_of)
    missing = _missing(table_rows, sources)
    if stale_data:
        missing.insert(
            0,
            f"the as-of date {as_of.isoformat()} is past the newest stored data "
            f"({'; '.join(stale_data)}): each metric's windows end at its newest data",
        )
    charts = _charts(con, params)
    return Analysis(
        as_of,
        windows,
        {k: _r(v) for k, v in params.items()},
        tools,
        skills,
        baselines,
        sources,
        missing,
        not_trackable,
        table_rows,
        charts,
    )


def _sources(
    con: duckdb.DuckDBPyConnection, params: dict[str, Any], as_of: date
) -> list[dict[str, Any]]:
    out = []
    stale_before = datetime.combine(as_of, datetime.min.time()) - timedelta(
        days=STALE_SOURCE_DAYS - 1
    )
    for source, status, last_run, last_ok, rate_limited, errors in rq.fetch(con, "sources", params):
        problems = []
        if last_ok is None:
            problems.append("never succeeded")
        elif last_ok < stale_before:
            problems.append(f"stale: last success {last_ok:%Y-%m-%d}")
        if rate_limited:
            problems.append(f"rate-limited ({rate_limited} error(s) in the last 7 days)")
        if status in ("failed", "interrupted"):
            problems.append(f"last run {status}")
        out.append(
            {
                "source": source,
                "last_status": status,
                "last_run_at": _r(last_run),
                "last_success_at": _r(last_ok),
                "errors_7d": int(errors),
                "problems": problems,
            }
        )
    return out


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


def _missing(table_rows: dict[str, int], sources: list[dict[str, Any]]) -> list[str]:
    out = [hint for tbl, hint in _TABLE_HINTS.items() if table_rows.get(tbl, 0) == 0]
    if not sources:
        out.append("no collection run is recorded in `runs`")
    return out


def _skills(
    con: duckdb.DuckDBPyConnection,
    params: dict[str, Any],
    tools: list[ToolTrend],
    baselines: dict[str, dict[str, Any]],
) -> list[SkillSummary]:
    growth_rows = {r[0]: r[1:] for r in rq.fetch(con, "skill_growth", params)}
    overall = growth_rows.get("*")
    all_stars = _growth(overall[0], overall[1]) if overall else None
    all_dl = _growth(overall[2], overall[3]) if overall else None
    names = {t.tool_id: t.name for t in tools}
    labels = _skill_labels(con, params, tools, baselines)
    shares_by_skill: dict[str, list[dict[str, Any]]] = {}
    for skill, tool_id, ssr, ssp, dsr, dsp, stars_recent, dl_recent in rq.fetch(
        con, "skill_shares", params
    ):
        shares_by_skill.setdefault(skill, []).append(
            {
                "tool_id": tool_id,
                "name": names.get(tool_id, tool_id),
                "stars_share_recent": _r(ssr),
                "stars_share_prior": _r(ssp),
                "stars_share_change_pp": _r(100 * (ssr - ssp))
                if ssr is not None and ssp is not None
                else None,
                "downloads_share_recent": _r(dsr),
                "downloads_share_prior": _r(dsp),
                "downloads_share_change_pp": _r(100 * (dsr - dsp))
                if dsr is not None and dsp is not None
                else None,
                "stars_recent": _r(stars_recent),
                "downloads_recent": _r(dl_recent),
            }
        )
    out: list[SkillSummary] = []
    seen: dict[str, str] = {}
    for t in tools:
        seen.setdefault(t.skill, t.skill_title)
    for skill, title in seen.items():
        g = growth_rows.get(skill)
        stars_g = _growth(g[0], g[1]) if g else None
        dl_g = _growth(g[2], g[3]) if g else None
        growth = {
            "stars_recent_4q": _r(g[0]) if g else None,
            "stars_prior_4q": _r(g[1]) if g else None,
            "stars_growth": _r(stars_g),
            "stars_growth_relative": _r(stars_g / all_stars) if stars_g and all_stars else None,
            "downloads_recent_4q": _r(g[2]) if g else None,
            "downloads_prior_4q": _r(g[3]) if g else None,
            "downloads_growth": _r(dl_g),
            "downloads_growth_relative": _r(dl_g / all_dl) if dl_g and all_dl else None,
            "releases_recent_4q": _r(g[4]) if g else None,
            "releases_prior_4q": _r(g[5]) if g else None,
            "all_tools_stars_growth": _r(all_stars),
            "all_tools_downloads_growth": _r(all_dl),
            "sql": "skill_growth",
        }
        shares = shares_by_skill.get(skill, [])
        key = None
        if any(s["downloads_share_change_pp"] is not None for s in shares):
            key = "downloads"
        elif any(s["stars_share_change_pp"] is not None for s in shares):
            key = "stars"
        winners: list[dict[str, Any]] = []
        losers: list[dict[str, Any]] = []
        if key:
            ranked = sorted(
                (s for s in shares if s[f"{key}_share_change_pp"] is not None),
                key=lambda s: float(s[f"{key}_share_change_pp"]),
            )
            losers = [s for s in ranked if s[f"{key}_share_change_pp"] <= -1.0][:3]
            winners = [s for s in reversed(ranked) if s[f"{key}_share_change_pp"] >= 1.0][:3]
        skill_tools = [t for t in tools if t.skill == skill]
        counts = {
            lab: sum(1 for t in skill_tools if t.label == lab)
            for lab in ("rising", "declining", "stable", "dormant", "insufficient data")
        }
        metric_labels = labels.get(skill, {})
        head = next(
            (metric_labels[m] for m in HEADLINE_ORDER if m in metric_labels),
            None,
        )
        label = head["label"] if head else "insufficient data"
        reason = head["reason"] if head else "no tool of this skill can be judged yet"
        if head:
            reason += _demand_disagrees(head["metric"], label, metric_labels)
        out.append(
            SkillSummary(
                skill,
                title,
                growth,
                shares,
                winners,
                losers,
                label,
                key,
                counts,
                reason,
                head["metric"] if head else None,
                metric_labels,
            )
        )
    return out


def _skill_labels(
    con: duckdb.DuckDBPyConnection,
    params: dict[str, Any],
    tools: list[ToolTrend],
    baselines: dict[str, dict[str, Any]],
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per skill and metric: the label of the skill's summed series, backed by its tools."""
    judged = [
        (t.tool_id, m)
        for t in tools
        for m, mt in t.metrics.items()
        if mt.label in ("rising", "declining", "stable")
    ]
    con.execute("CREATE OR REPLACE TEMP TABLE _rpt_judged (tool_id VARCHAR, metric VARCHAR)")
    if judged:
        con.execute(
            "INSERT INTO _rpt_judged SELECT unnest($1), unnest($2)",
            [[j[0] for j in judged], [j[1] for j in judged]],
        )
    by_skill: dict[str, list[ToolTrend]] = {}
    for t in tools:
        by_skill.setdefault(t.skill, []).append(t)
    base = {m: float(b["median_r"]) for m, b in baselines.items() if b["used"] and b["median_r"]}
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for skill, metric, n, earlier, later, em, lm in rq.fetch(con, "skill_readings", params):
        members = [
            t
            for t in by_skill.get(skill, [])
            if metric in t.metrics and t.metrics[metric].label in ("rising", "declining", "stable")
        ]
        r = _ratio(later, earlier)
        rm = _ratio(lm, em)
        rr = r / base[metric] if r is not None and base.get(metric) else None
        label, clauses = judge(r, rm, rr, None)
        vol = {t.tool_id: float(t.metrics[metric].inputs["later_per_year"] or 0) for t in members}
        total = sum(vol.values()) or 1.0
        backing = {
            lab: [t for t in members if t.metrics[metric].label == lab]
            for lab in ("rising", "declining", "stable")
        }
        share = {lab: sum(vol[t.tool_id] for t in ts) / total for lab, ts in backing.items()}
        title = METRIC_TITLES[metric]
        if label in ("rising", "declining") and (
            share[label] < MIN_SKILL_BACKING or share[label] <= share[_OPPOSITE[label]]
        ):
            clauses = [
                f"the skill's sum says {label}, but its {label} tools hold only "
                f"{share[label] * 100:.0f} % of its volume"
            ]
            label = "stable"
        reason = f"{title}: {_pct(r)} year on year"
        reason += f", {_pct(rr)} vs the median tool" if rr is not None else ""
        if label == "stable" and clauses:
            reason += "; " + "; ".join(clauses)
        if int(n) == 1:
            reason += f"; only one judged tool ({members[0].name if members else '?'})"
        else:
            parts = [
                f"{len(ts)} {lab} ({share[lab] * 100:.0f} % of the skill's {title})"
                for lab, ts in backing.items()
                if ts
            ]
            reason += f"; {int(n)} judged tools: " + ", ".join(parts)
        if metric in LOW_CONFIDENCE and label != "stable":
            reason += "; low confidence: release cadence shows maintenance, not use"
        out.setdefault(skill, {})[metric] = {
            "metric": metric,
            "label": label,
            "reason": reason,
            "tools_judged": int(n),
            "tools_rising": len(backing["rising"]),
            "tools_declining": len(backing["declining"]),
            "tools_stable": len(backing["stable"]),
            "share_rising": _r(share["rising"]),
            "share_declining": _r(share["declining"]),
            "r": _r(r),
            "rm": _r(rm),
            "rr": _r(rr),
            "earlier_per_year": _r(earlier, 1),
            "later_per_year": _r(later, 1),
            "confidence": "low" if metric in LOW_CONFIDENCE else "normal",
            "sql": "skill_readings",
        }
    return out


_OPPOSITE = {"rising": "declining", "declining": "rising"}


def _charts(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> dict[str, Any]:
    monthly: dict[str, dict[str, list[tuple[str, Any, Any, Any]]]] = {}
    for skill, series, month, stars, downloads, releases in rq.fetch(con, "chart_monthly", params):
        monthly.setdefault(skill, {}).setdefault(series, []).append(
            (month.isoformat()[:7], stars, downloads, releases)
        )
    shares: dict[str, dict[str, list[tuple[str, Any, Any, Any, Any]]]] = {}
    for skill, series, quarter, ss, ds, js, qs in rq.fetch(con, "chart_shares", params):
        label = f"{quarter.year}-Q{(quarter.month - 1) // 3 + 1}"
        shares.setdefault(skill, {}).setdefault(series, []).append(
            (label, _r(ss), _r(ds), _r(js), _r(qs))
        )
    ranks: dict[str, dict[str, int]] = {}
    for skill, tool_id, rank in rq.fetch(con, "chart_ranks", params):
        ranks.setdefault(skill, {})[tool_id] = int(rank)
    return {"monthly": monthly, "shares": shares, "ranks": ranks}


def label_rows(a: Analysis) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows `tool_labels` and `skill_labels` store for this analysis."""
    tools: list[dict[str, Any]] = []
    for t in a.tools:
        for m, mt in t.metrics.items():
            i = mt.inputs
            tools.append(
                {
                    "tool_id": t.tool_id,
                    "metric": m,
                    "label": mt.label,
                    "confidence": mt.confidence,
                    "driver": None,
                    "r": i["r"],
                    "rm": i["rm"],
                    "rr": i["rr"],
                    "baseline_r": i["baseline_r"],
                    "earlier_per_year": i["earlier_per_year"],
                    "later_per_year": i["later_per_year"],
                    "window_end": date.fromisoformat(i["window_end"]) if i["window_end"] else None,
                    "reason": mt.reason,
                }
            )
        if not t.trackable and not t.metrics:
            continue
        head = t.metrics.get(t.driver) if t.driver else None
        hi = head.inputs if head else {}
        tools.append(
            {
                "tool_id": t.tool_id,
                "metric": "headline",
                "label": t.label,
                "confidence": t.confidence,
                "driver": t.driver,
                "r": hi.get("r"),
                "rm": hi.get("rm"),
                "rr": hi.get("rr"),
                "baseline_r": hi.get("baseline_r"),
                "earlier_per_year": hi.get("earlier_per_year"),
                "later_per_year": hi.get("later_per_year"),
                "window_end": date.fromisoformat(hi["window_end"])
                if hi.get("window_end")
                else None,
                "reason": t.reason,
            }
        )
    skills: list[dict[str, Any]] = []
    for s in a.skills:
        for m, sl in s.metric_labels.items():
            skills.append({**sl, "skill": s.skill, "metric": m, "driver": None})
        sk_head = s.metric_labels.get(s.driver) if s.driver else None
        skills.append(
            {
                **(sk_head or {}),
                "skill": s.skill,
                "metric": "headline",
                "label": s.label,
                "confidence": sk_head["confidence"] if sk_head else "normal",
                "driver": s.driver,
                "tools_judged": sk_head["tools_judged"] if sk_head else 0,
                "tools_rising": sk_head["tools_rising"] if sk_head else 0,
                "tools_declining": sk_head["tools_declining"] if sk_head else 0,
                "tools_stable": sk_head["tools_stable"] if sk_head else 0,
                "reason": s.reason,
            }
        )
    return tools, skills
