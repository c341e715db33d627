"""The rows `tool_labels` and `skill_labels` store for an analysis (warehouse/labels.py writes them)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from tracker.reports.model import Analysis

__all__ = ["label_rows"]


def _tool_row(
    tool_id: str,
    metric: str,
    label: str,
    confidence: str,
    driver: str | None,
    inputs: Mapping[str, Any],
    reason: str,
) -> dict[str, Any]:
    window_end = inputs.get("window_end")
    return {
        "tool_id": tool_id,
        "metric": metric,
        "label": label,
        "confidence": confidence,
        "driver": driver,
        "r": inputs.get("r"),
        "rm": inputs.get("rm"),
        "rr": inputs.get("rr"),
        "baseline_r": inputs.get("baseline_r"),
        "earlier_per_year": inputs.get("earlier_per_year"),
        "later_per_year": inputs.get("later_per_year"),
        "window_end": date.fromisoformat(window_end) if window_end else None,
        "reason": reason,
    }


def _tool_rows(a: Analysis) -> list[dict[str, Any]]:
    """Per tool a row per metric, then its headline (not for untracked tools without data)."""
    rows: list[dict[str, Any]] = []
    for t in a.tools:
        for m, mt in t.metrics.items():
            rows.append(
                _tool_row(t.tool_id, m, mt.label, mt.confidence, None, mt.inputs, mt.reason)
            )
        if not t.trackable and not t.metrics:
            continue
        head = t.metrics.get(t.driver) if t.driver else None
        hi = head.inputs if head else {}
        rows.append(_tool_row(t.tool_id, "headline", t.label, t.confidence, t.driver, hi, t.reason))
    return rows


def _skill_rows(a: Analysis) -> list[dict[str, Any]]:
    """Per skill a row per metric, then its headline."""
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
    return skills


def label_rows(a: Analysis) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows `tool_labels` and `skill_labels` store for this analysis."""
    return _tool_rows(a), _skill_rows(a)
