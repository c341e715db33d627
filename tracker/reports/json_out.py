"""trends.json: every label with its evidence, the thresholds and the SQL behind them."""

from __future__ import annotations

from typing import Any

from tracker import __version__
from tracker.reports import thresholds as th
from tracker.reports.model import Analysis, SkillSummary, ToolTrend

__all__ = ["trends_json"]

_THRESHOLDS = {
    "rising_at_least": th.RISE,
    "declining_at_most": th.FALL,
    "min_z_counts": th.MIN_Z,
    "sub_windows_per_year": th.SUBS,
    "min_known_share_of_year": th.MIN_KNOWN,
    "min_volume_per_year": th.MIN_VOLUME,
    "min_coverage": th.MIN_COVERAGE,
    "min_baseline_tools": th.MIN_BASELINE_TOOLS,
    "step_factor": th.STEP_FACTOR,
    "step_min_level": th.STEP_MIN_LEVEL,
    "spike_factor": th.SPIKE_FACTOR,
    "dormant_months": th.DORMANT_MONTHS,
    "headline_order": list(th.HEADLINE_ORDER),
}


def _attrs(obj: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: getattr(obj, n) for n in names}


def _skill(s: SkillSummary) -> dict[str, Any]:
    return {
        **_attrs(s, ("skill", "title", "label", "driver", "reason")),
        "metrics": s.metric_labels,
        **_attrs(s, ("share_metric", "growth", "counts", "winners", "losers", "shares")),
        "sql": "skill_shares",
    }


def _tool(t: ToolTrend) -> dict[str, Any]:
    metrics = {
        m: {
            "label": mt.label,
            "confidence": mt.confidence,
            "reason": mt.reason,
            "inputs": mt.inputs,
        }
        for m, mt in t.metrics.items()
    }
    names = ("tool_id", "name", "skill", "trackable", "label", "driver", "confidence", "reason")
    return {**_attrs(t, names), "metrics": metrics, "flags": t.flags, "info": t.info}


def trends_json(a: Analysis) -> dict[str, Any]:
    """trends.json of ``a`` (a JSON-ready dict)."""
    from tracker.warehouse.report_queries import QUERIES

    return {
        "as_of": a.as_of.isoformat(),
        "tracker_version": __version__,
        "windows": {
            "labels": "later 365 days vs the 365 before, ending at each metric's window_end",
            "chart_months_end_before": a.windows.cur_month.isoformat(),
            "share_quarters_end_before": a.windows.cur_quarter.isoformat(),
        },
        "thresholds": _THRESHOLDS,
        "missing": a.missing,
        "table_rows": a.table_rows,
        "baselines": a.baselines,
        "skills": [_skill(s) for s in a.skills],
        "tools": [_tool(t) for t in a.tools],
        "sources": a.sources,
        "not_trackable": a.not_trackable,
        "sql": {"parameters": a.params, "queries": QUERIES},
    }
