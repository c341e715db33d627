"""The rows `tool_labels` and `skill_labels` store for an analysis (warehouse/labels.py writes them)."""

from __future__ import annotations

from datetime import date
from typing import Any

from tracker.reports.model import Analysis

__all__ = ["label_rows"]


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
