"""Each tool's headline label: dormancy, then the first judgeable metric of HEADLINE_ORDER.

Pure: reads `ToolRow`s and the tool's `MetricTrend`s, returns `ToolTrend`s.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from tracker.reports.flags import tool_flags
from tracker.reports.model import MetricTrend, ToolTrend
from tracker.reports.readings import rounded
from tracker.reports.rows import StaleRow, ToolRow
from tracker.reports.thresholds import (
    DEMAND_METRICS,
    DORMANT_MONTHS,
    HEADLINE_ORDER,
    HEADLINE_WHY,
    LOW_CONFIDENCE,
    METRIC_WORDS,
    METRICS,
)

__all__ = ["demand_disagrees", "not_trackable", "tool_trend"]

_INFO = (
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


def _dormant(tool: ToolRow, as_of: date) -> str | None:
    cutoff = datetime.combine(as_of, datetime.min.time()) - timedelta(
        days=round(DORMANT_MONTHS * 30.44)
    )
    if tool.archived:
        return "the repository is archived"
    pushed, released = tool.pushed_at, tool.last_release_at
    if pushed is not None and pushed < cutoff and (released is None or released < cutoff):
        last = f"last release {released:%Y-%m-%d}" if released else "no release on record"
        return f"no push since {pushed:%Y-%m-%d} and {last} ({DORMANT_MONTHS} months or more)"
    return None


def _label_of(m: Any) -> str:
    return str(m["label"] if isinstance(m, dict) else m.label)


def demand_disagrees(driver: str, label: str, metrics: Mapping[str, Any]) -> str:
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


def _headline(
    tool: ToolRow, metrics: dict[str, MetricTrend], as_of: date
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
        reason += demand_disagrees(m, mt.label, metrics)
        return mt.label, m, reason
    if not tool.trackable:
        return "insufficient data", None, f"not trackable: {tool.notes or 'no public signal'}"
    missing = [m for m in METRICS if m not in metrics]
    why = "; ".join(f"{m}: {mt.reason}" for m, mt in metrics.items())
    if missing:
        why = (why + "; " if why else "") + "no data for " + ", ".join(missing)
    return "insufficient data", None, why


def tool_trend(
    tool: ToolRow, metrics: dict[str, MetricTrend], stale: list[StaleRow], as_of: date
) -> ToolTrend:
    """The tool's headline label, its driver and reason, per-metric labels, flags and facts."""
    label, driver, reason = _headline(tool, metrics, as_of)
    info = {k: rounded(getattr(tool, k)) for k in _INFO}
    info["pypi_packages"] = list(tool.pypi_packages or [])
    low = driver in LOW_CONFIDENCE and label in ("rising", "declining")
    return ToolTrend(
        tool.tool_id,
        tool.name,
        tool.skill,
        tool.skill_title,
        bool(tool.trackable),
        label,
        driver,
        reason,
        metrics,
        tool_flags(tool, metrics, stale),
        info,
        "low" if low else "normal",
    )


def not_trackable(tools: tuple[ToolRow, ...]) -> list[dict[str, str]]:
    """The catalog's tools without a public signal, with the catalog's reason."""
    return [
        {
            "tool_id": t.tool_id,
            "name": t.name,
            "skill": t.skill_title,
            "reason": t.notes or "no public signal",
        }
        for t in tools
        if not t.trackable
    ]
