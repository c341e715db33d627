"""What the analysis hands the renderers: labels, evidence, shares and chart series."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tracker.warehouse import report_queries as rq

__all__ = ["Analysis", "MetricTrend", "SkillSummary", "ToolTrend"]


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
