"""Trend labels and skill shares, computed in DuckDB (warehouse/report_queries.py) and judged here.

Python only loops over per-tool summary rows (one per tool and metric), never over daily rows.
Every threshold is a named constant below and documented in docs/report.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tracker.warehouse import report_queries as rq

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "ALPHA",
    "DORMANT_MONTHS",
    "HEADLINE_ORDER",
    "METRICS",
    "MIN_EFFECT",
    "Analysis",
    "MetricTrend",
    "SkillSummary",
    "ToolTrend",
    "analyse",
    "mann_kendall_p",
]

# ---- thresholds (docs/report.md explains each) -------------------------------------------------
TREND_MONTHS = 24  # monthly points in the trend window (stars, downloads)
TREND_QUARTERS = 8  # quarterly points in the trend window (releases)
CHART_MONTHS = 36  # months drawn in the monthly charts
SHARE_QUARTERS = 12  # quarters drawn in the share charts
MIN_COVERAGE = 0.5  # a download month needs figures for half its days (scaled up), else a gap
MIN_POINTS_MONTHLY = 18  # of the 24 months, with data, to judge a monthly metric
MIN_POINTS_QUARTERLY = 6  # of the 8 quarters, since the first release, to judge releases
MIN_VOLUME = {"stars": 24.0, "downloads": 2400.0, "releases": 2.0}  # sum over the window
ALPHA = 0.05  # Mann-Kendall two-sided significance level
MIN_EFFECT = (
    1.25  # growth factor per year, relative to the baseline, to call rising (1/x: declining)
)
MIN_BASELINE_TOOLS = 5  # eligible tools needed before the median tool becomes the baseline
STEP_FACTOR = 2.0  # a level shift of x2 (or /2) between 3-period medians is a step
STEP_MIN_LEVEL = 10.0  # ... when the level is at least this many per month
SPIKE_FACTOR = 4.0  # a month above 4x the window's median month is a spike
DORMANT_MONTHS = 18  # no release and no push for this long (or archived): dormant
STALE_SOURCE_DAYS = 7  # a source whose newest success is older than this is stale
TOP_N = 8  # tools drawn per skill chart; the rest are summed as "other"
COUNTING_CHANGE_MONTH = date(2021, 4, 1)  # PyPI download counting change (~x2.8)

METRICS = ("stars", "downloads", "releases")
METRIC_TITLES = {
    "stars": "new stars per month",
    "downloads": "downloads per month",
    "releases": "releases per quarter",
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


@dataclass(slots=True)
class SkillSummary:
    """A skill's growth (recent 4 quarters vs 4 before), shares and winners/losers."""

    skill: str
    title: str
    growth: dict[str, Any]
    shares: list[dict[str, Any]]
    winners: list[dict[str, Any]]
    losers: list[dict[str, Any]]
    label: str
    share_metric: str | None
    counts: dict[str, int]


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


def mann_kendall_p(s: float, n: int, tie_term: float) -> tuple[float, float]:
    """Return (z, two-sided p) of Mann-Kendall's S for n points (normal approximation)."""
    var = (n * (n - 1) * (2 * n + 5) - tie_term) / 18.0
    if n < 3 or var <= 0:
        return 0.0, 1.0
    z = (s - math.copysign(1.0, s)) / math.sqrt(var) if s != 0 else 0.0
    return z, math.erfc(abs(z) / math.sqrt(2.0))


def _first_of_month(d: date) -> date:
    return d.replace(day=1)


def _first_of_quarter(d: date) -> date:
    return d.replace(month=3 * ((d.month - 1) // 3) + 1, day=1)


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, 1)


def _fmt_factor(f: float | None) -> str:
    if f is None or not math.isfinite(f):
        return "n/a"
    pct = (f - 1.0) * 100.0
    return f"{pct:+.0f}%"


def _r(x: Any, nd: int = 4) -> Any:
    if isinstance(x, float):
        return round(x, nd) if math.isfinite(x) else None
    if isinstance(x, date | datetime):
        return x.isoformat()
    return x


def _metric_trend(metric: str, row: dict[str, Any]) -> MetricTrend:
    per_year = 4 if metric == "releases" else 12
    window = TREND_QUARTERS if metric == "releases" else TREND_MONTHS
    unit = "quarters" if metric == "releases" else "months"
    n = int(row["n_points"])
    slope = row["slope"]
    baseline = float(row["baseline_slope"])
    _z_raw, p_raw = mann_kendall_p(float(row["mk_s_raw"] or 0), n, float(row["tie_term_raw"]))
    z_rel, p_rel = mann_kendall_p(float(row["mk_s_rel"] or 0), n, float(row["tie_term_rel"]))
    raw_factor = math.exp(per_year * slope) if slope is not None else None
    rel_factor = math.exp(per_year * (slope - baseline)) if slope is not None else None
    yoy = row["yoy"]
    inputs: dict[str, Any] = {
        "window_periods": window,
        "period": "quarter" if metric == "releases" else "month",
        "periods_with_data": n,
        "first_period": _r(row["first_period"]),
        "volume_in_window": _r(row["volume"], 1),
        "recent_12m_avg": _r(row["recent_avg"], 2),
        "prior_12m_avg": _r(row["prior_avg"], 2),
        "yoy_ratio": _r(yoy),
        "yoy_ratio_relative": _r(yoy / row["baseline_yoy"])
        if yoy is not None and row["baseline_yoy"]
        else None,
        "momentum_90d_ratio": _r(row["momentum"]),
        "theil_sen_log_slope_per_period": _r(slope, 6),
        "growth_per_year_raw": _r(raw_factor),
        "baseline_log_slope_per_period": _r(baseline, 6),
        "baseline_tools": int(row["baseline_tools"]),
        "growth_per_year_relative": _r(rel_factor),
        "mann_kendall_s_raw": _r(row["mk_s_raw"]),
        "mann_kendall_p_raw": _r(p_raw, 6),
        "mann_kendall_s_relative": _r(row["mk_s_rel"]),
        "mann_kendall_z_relative": _r(z_rel),
        "mann_kendall_p_relative": _r(p_rel, 6),
        "step_period": _r(row["step_period"]),
        "step_ratio": _r(row["step_ratio"]),
        "spike_period": None,
        "spike_ratio": None,
        "estimate_periods": int(row["estimate_periods"]),
        "gap_periods": int(row["gap_periods"]),
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
    if not row["eligible"]:
        need = MIN_POINTS_QUARTERLY if metric == "releases" else MIN_POINTS_MONTHLY
        if n < need:
            why = f"only {n} of {window} {unit} have data (needs {need})"
        else:
            why = (
                f"too little activity: {row['volume']:.0f} in {window} {unit} "
                f"(needs {MIN_VOLUME[metric]:.0f})"
            )
        return MetricTrend(metric, "insufficient data", why, inputs)
    assert rel_factor is not None
    significant = p_rel < ALPHA
    if significant and rel_factor >= MIN_EFFECT:
        label = "rising"
    elif significant and rel_factor <= 1.0 / MIN_EFFECT:
        label = "declining"
    else:
        label = "stable"
    base_txt = (
        "vs the median tool"
        if int(row["baseline_tools"]) >= MIN_BASELINE_TOOLS
        else "(raw: too few tools for a baseline)"
    )
    reason = (
        f"{_fmt_factor(rel_factor)}/yr {base_txt} (raw {_fmt_factor(raw_factor)}/yr), "
        f"Mann-Kendall p={p_rel:.3g} over {n} {unit}"
    )
    if label == "stable" and not significant:
        reason += f"; not significant at {ALPHA}"
    elif label == "stable":
        reason += f"; effect below {_fmt_factor(MIN_EFFECT)}/yr"
    if row["step_period"] is not None:
        reason += f"; step x{row['step_ratio']:.2g} in {row['step_period']:%Y-%m} removed"
    return MetricTrend(metric, label, reason, inputs)


def _flags(tool: dict[str, Any], metrics: dict[str, MetricTrend]) -> list[dict[str, str]]:
    flags: list[dict[str, str]] = []
    for m, mt in metrics.items():
        i = mt.inputs
        if i["step_period"]:
            txt = f"{m}: level shift x{i['step_ratio']:.2g} in {i['step_period'][:7]}"
            if m == "downloads" and i["step_period"][:7] == COUNTING_CHANGE_MONTH.isoformat()[:7]:
                txt += " (PyPI's April 2021 counting change)"
            flags.append({"kind": "step", "text": txt + "; the slope is measured without it"})
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
        reason = f"{METRIC_TITLES[m]}: {mt.reason}"
        others = [
            f"{o} say {metrics[o].label}"
            for o in HEADLINE_ORDER
            if o != m and o in metrics and metrics[o].label not in ("insufficient data", mt.label)
        ]
        if others:
            reason += f". Also: {', '.join(others)}; the headline follows {m} ({HEADLINE_WHY[m]})"
        return mt.label, m, reason
    if not tool["trackable"]:
        return "insufficient data", None, f"not trackable: {tool['notes'] or 'no public signal'}"
    missing = [m for m in METRICS if m not in metrics]
    why = "; ".join(f"{m}: {mt.reason}" for m, mt in metrics.items())
    if missing:
        why = (why + "; " if why else "") + "no data for " + ", ".join(missing)
    return "insufficient data", None, why


def _growth(recent: Any, prior: Any) -> float | None:
    if recent is None or prior is None or not prior:
        return None
    return float(recent) / float(prior)


def analyse(con: duckdb.DuckDBPyConnection, as_of: date) -> Analysis:
    """Compute every label, share and chart series of the report as of ``as_of`` (UTC date)."""
    cur_month = _first_of_month(as_of)
    cur_quarter = _first_of_quarter(as_of)
    windows = rq.Windows(cur_month, cur_quarter, TREND_MONTHS, TREND_QUARTERS, CHART_MONTHS)
    params: dict[str, Any] = {
        "cur_month": cur_month,
        "cur_quarter": cur_quarter,
        "months": TREND_MONTHS,
        "quarters": TREND_QUARTERS,
        "min_coverage": MIN_COVERAGE,
        "step_min_level": STEP_MIN_LEVEL,
        "step_factor": STEP_FACTOR,
        "min_points_m": MIN_POINTS_MONTHLY,
        "min_points_q": MIN_POINTS_QUARTERLY,
        "min_volume_stars": MIN_VOLUME["stars"],
        "min_volume_downloads": MIN_VOLUME["downloads"],
        "min_volume_releases": MIN_VOLUME["releases"],
        "min_baseline_tools": MIN_BASELINE_TOOLS,
        "as_of_next": as_of + timedelta(days=1),
        "recent_start": _add_months(cur_quarter, -12),
        "prior_start": _add_months(cur_quarter, -24),
        "top_n": TOP_N,
        "chart_start": _add_months(cur_month, -CHART_MONTHS),
        "share_start": _add_months(cur_quarter, -3 * SHARE_QUARTERS),
    }
    rq.prepare_metric_stats(con, params)
    cols = [
        "tool_id", "metric", "n_points", "volume", "first_period", "recent_avg", "recent_n",
        "prior_avg", "prior_n", "mom_recent", "mom_prior", "yoy", "momentum",
        "estimate_periods", "gap_periods", "max_value", "max_period", "median_value",
        "slope", "mk_s_raw", "tie_term_raw", "mk_s_rel", "tie_term_rel",
        "step_period", "step_ratio", "eligible", "baseline_slope", "baseline_yoy",
        "baseline_tools",
    ]  # fmt: skip
    by_tool: dict[str, dict[str, MetricTrend]] = {}
    baselines: dict[str, dict[str, Any]] = {}
    for raw in rq.fetch(con, "metric_stats", params):
        row = dict(zip(cols, raw, strict=True))
        mt = _metric_trend(row["metric"], row)
        by_tool.setdefault(row["tool_id"], {})[row["metric"]] = mt
        per_year = 4 if row["metric"] == "releases" else 12
        baselines[row["metric"]] = {
            "tools": int(row["baseline_tools"]),
            "used": int(row["baseline_tools"]) >= MIN_BASELINE_TOOLS,
            "median_log_slope_per_period": _r(float(row["baseline_slope"]), 6),
            "median_growth_per_year": _r(math.exp(per_year * float(row["baseline_slope"]))),
            "median_yoy_ratio": _r(float(row["baseline_yoy"])),
            "sql": "baseline",
        }
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
            )
        )
    skills = _skills(con, params, tools)
    table_rows = {str(k): int(v) for k, v in rq.fetch(con, "table_rows", params)}
    sources = _sources(con, params, as_of)
    missing = _missing(table_rows, sources)
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
    con: duckdb.DuckDBPyConnection, params: dict[str, Any], tools: list[ToolTrend]
) -> list[SkillSummary]:
    growth_rows = {r[0]: r[1:] for r in rq.fetch(con, "skill_growth", params)}
    overall = growth_rows.get("*")
    all_stars = _growth(overall[0], overall[1]) if overall else None
    all_dl = _growth(overall[2], overall[3]) if overall else None
    names = {t.tool_id: t.name for t in tools}
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
        rel = growth["downloads_growth_relative"] or growth["stars_growth_relative"]
        if rel is None:
            label = "insufficient data"
        elif rel >= MIN_EFFECT:
            label = "growing faster than the tracked set"
        elif rel <= 1 / MIN_EFFECT:
            label = "growing slower than the tracked set"
        else:
            label = "in line with the tracked set"
        skill_tools = [t for t in tools if t.skill == skill]
        counts = {
            lab: sum(1 for t in skill_tools if t.label == lab)
            for lab in ("rising", "declining", "stable", "dormant", "insufficient data")
        }
        out.append(SkillSummary(skill, title, growth, shares, winners, losers, label, key, counts))
    return out


def _charts(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> dict[str, Any]:
    monthly: dict[str, dict[str, list[tuple[str, Any, Any, Any]]]] = {}
    for skill, series, month, stars, downloads, releases in rq.fetch(con, "chart_monthly", params):
        monthly.setdefault(skill, {}).setdefault(series, []).append(
            (month.isoformat()[:7], stars, downloads, releases)
        )
    shares: dict[str, dict[str, list[tuple[str, Any, Any]]]] = {}
    for skill, series, quarter, ss, ds in rq.fetch(con, "chart_shares", params):
        label = f"{quarter.year}-Q{(quarter.month - 1) // 3 + 1}"
        shares.setdefault(skill, {}).setdefault(series, []).append((label, _r(ss), _r(ds)))
    ranks: dict[str, dict[str, int]] = {}
    for skill, tool_id, rank in rq.fetch(con, "chart_ranks", params):
        ranks.setdefault(skill, {})[tool_id] = int(rank)
    return {"monthly": monthly, "shares": shares, "ranks": ranks}
