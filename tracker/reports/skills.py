"""Per skill: growth, each tool's share, winners and losers, and the skill's labels.

Pure: reads the `skill_growth`, `skill_shares` and `skill_readings` rows and the tools' trends.
A skill's label is the label of its judged tools' summed series, backed by tools of that label
holding at least MIN_SKILL_BACKING of its volume.
"""

from __future__ import annotations

from typing import Any

from tracker.reports.model import SkillSummary, ToolTrend
from tracker.reports.readings import judge, pct, ratio, rounded
from tracker.reports.rows import ReportData, SkillGrowthRow, SkillReadingRow, SkillShareRow
from tracker.reports.thresholds import (
    HEADLINE_ORDER,
    LOW_CONFIDENCE,
    METRIC_TITLES,
    MIN_SKILL_BACKING,
)
from tracker.reports.tools import demand_disagrees

__all__ = ["skill_summaries"]

_JUDGED = ("rising", "declining", "stable")
_OPPOSITE = {"rising": "declining", "declining": "rising"}
_LOW_NOTE = "; low confidence: release cadence shows maintenance, not use"


def _growth(recent: Any, prior: Any) -> float | None:
    if recent is None or prior is None or not prior:
        return None
    return float(recent) / float(prior)


def _change_pp(recent: float | None, prior: float | None) -> float | None:
    return rounded(100 * (recent - prior)) if recent is not None and prior is not None else None


def _share(row: SkillShareRow, names: dict[str, str]) -> dict[str, Any]:
    ssr, ssp, dsr, dsp = (
        row.stars_share_recent,
        row.stars_share_prior,
        row.dl_share_recent,
        row.dl_share_prior,
    )
    return {
        "tool_id": row.tool_id,
        "name": names.get(row.tool_id, row.tool_id),
        "stars_share_recent": rounded(ssr),
        "stars_share_prior": rounded(ssp),
        "stars_share_change_pp": _change_pp(ssr, ssp),
        "downloads_share_recent": rounded(dsr),
        "downloads_share_prior": rounded(dsp),
        "downloads_share_change_pp": _change_pp(dsr, dsp),
        "stars_recent": rounded(row.stars_recent),
        "downloads_recent": rounded(row.downloads_recent),
    }


def _growth_of(g: SkillGrowthRow | None, overall: SkillGrowthRow | None) -> dict[str, Any]:
    all_stars = _growth(overall.stars_recent, overall.stars_prior) if overall else None
    all_dl = _growth(overall.downloads_recent, overall.downloads_prior) if overall else None
    stars_g = _growth(g.stars_recent, g.stars_prior) if g else None
    dl_g = _growth(g.downloads_recent, g.downloads_prior) if g else None
    return {
        "stars_recent_4q": rounded(g.stars_recent) if g else None,
        "stars_prior_4q": rounded(g.stars_prior) if g else None,
        "stars_growth": rounded(stars_g),
        "stars_growth_relative": rounded(stars_g / all_stars) if stars_g and all_stars else None,
        "downloads_recent_4q": rounded(g.downloads_recent) if g else None,
        "downloads_prior_4q": rounded(g.downloads_prior) if g else None,
        "downloads_growth": rounded(dl_g),
        "downloads_growth_relative": rounded(dl_g / all_dl) if dl_g and all_dl else None,
        "releases_recent_4q": rounded(g.releases_recent) if g else None,
        "releases_prior_4q": rounded(g.releases_prior) if g else None,
        "all_tools_stars_growth": rounded(all_stars),
        "all_tools_downloads_growth": rounded(all_dl),
        "sql": "skill_growth",
    }


def _movers(
    shares: list[dict[str, Any]],
) -> tuple[str | None, list[dict[str, Any]], list[dict[str, Any]]]:
    """(share metric, winners, losers): the top 3 tools gaining / losing 1 pp or more."""
    key = None
    if any(s["downloads_share_change_pp"] is not None for s in shares):
        key = "downloads"
    elif any(s["stars_share_change_pp"] is not None for s in shares):
        key = "stars"
    if not key:
        return None, [], []
    col = f"{key}_share_change_pp"
    ranked = sorted((s for s in shares if s[col] is not None), key=lambda s: float(s[col]))
    losers = [s for s in ranked if s[col] <= -1.0][:3]
    winners = [s for s in reversed(ranked) if s[col] >= 1.0][:3]
    return key, winners, losers


def _skill_label(
    row: SkillReadingRow, members: list[ToolTrend], base: dict[str, float]
) -> dict[str, Any]:
    """The label of a skill's summed series for one metric, checked against its tools."""
    metric, n = row.metric, int(row.tools)
    r = ratio(row.later, row.earlier)
    rm = ratio(row.later_median, row.earlier_median)
    rr = r / base[metric] if r is not None and base.get(metric) else None
    label, clauses = judge(r, rm, rr, None)
    vol = {t.tool_id: float(t.metrics[metric].inputs["later_per_year"] or 0) for t in members}
    total = sum(vol.values()) or 1.0
    backing = {lab: [t for t in members if t.metrics[metric].label == lab] for lab in _JUDGED}
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
    reason = f"{title}: {pct(r)} year on year"
    reason += f", {pct(rr)} vs the median tool" if rr is not None else ""
    if label == "stable" and clauses:
        reason += "; " + "; ".join(clauses)
    if n == 1:
        reason += f"; only one judged tool ({members[0].name if members else '?'})"
    else:
        parts = [
            f"{len(ts)} {lab} ({share[lab] * 100:.0f} % of the skill's {title})"
            for lab, ts in backing.items()
            if ts
        ]
        reason += f"; {n} judged tools: " + ", ".join(parts)
    if metric in LOW_CONFIDENCE and label != "stable":
        reason += _LOW_NOTE
    return {
        "metric": metric,
        "label": label,
        "reason": reason,
        "tools_judged": n,
        "tools_rising": len(backing["rising"]),
        "tools_declining": len(backing["declining"]),
        "tools_stable": len(backing["stable"]),
        "share_rising": rounded(share["rising"]),
        "share_declining": rounded(share["declining"]),
        "r": rounded(r),
        "rm": rounded(rm),
        "rr": rounded(rr),
        "earlier_per_year": rounded(row.earlier, 1),
        "later_per_year": rounded(row.later, 1),
        "confidence": "low" if metric in LOW_CONFIDENCE else "normal",
        "sql": "skill_readings",
    }


def _skill_labels(
    readings: tuple[SkillReadingRow, ...],
    tools: list[ToolTrend],
    baselines: dict[str, dict[str, Any]],
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per skill and metric: the label of the skill's summed series, backed by its tools."""
    by_skill: dict[str, list[ToolTrend]] = {}
    for t in tools:
        by_skill.setdefault(t.skill, []).append(t)
    base = {m: float(b["median_r"]) for m, b in baselines.items() if b["used"] and b["median_r"]}
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for row in readings:
        members = [
            t
            for t in by_skill.get(row.skill, [])
            if row.metric in t.metrics and t.metrics[row.metric].label in _JUDGED
        ]
        out.setdefault(row.skill, {})[row.metric] = _skill_label(row, members, base)
    return out


def _summary(
    skill: str,
    title: str,
    growth: dict[str, Any],
    shares: list[dict[str, Any]],
    tools: list[ToolTrend],
    metric_labels: dict[str, dict[str, Any]],
) -> SkillSummary:
    key, winners, losers = _movers(shares)
    skill_tools = [t for t in tools if t.skill == skill]
    counts = {
        lab: sum(1 for t in skill_tools if t.label == lab)
        for lab in ("rising", "declining", "stable", "dormant", "insufficient data")
    }
    head = next((metric_labels[m] for m in HEADLINE_ORDER if m in metric_labels), None)
    label = head["label"] if head else "insufficient data"
    reason = head["reason"] if head else "no tool of this skill can be judged yet"
    if head:
        reason += demand_disagrees(head["metric"], label, metric_labels)
    return SkillSummary(
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


def skill_summaries(
    data: ReportData, tools: list[ToolTrend], baselines: dict[str, dict[str, Any]]
) -> list[SkillSummary]:
    """One summary per skill of ``tools``, in the tools' (catalog) order."""
    growth_rows = {g.skill: g for g in data.skill_growth}
    overall = growth_rows.get("*")
    names = {t.tool_id: t.name for t in tools}
    labels = _skill_labels(data.skill_readings, tools, baselines)
    shares_by_skill: dict[str, list[dict[str, Any]]] = {}
    for row in data.skill_shares:
        shares_by_skill.setdefault(row.skill, []).append(_share(row, names))
    seen: dict[str, str] = {}
    for t in tools:
        seen.setdefault(t.skill, t.skill_title)
    return [
        _summary(
            skill,
            title,
            _growth_of(growth_rows.get(skill), overall),
            shares_by_skill.get(skill, []),
            tools,
            labels.get(skill, {}),
        )
        for skill, title in seen.items()
    ]
