"""Data-quality flags of a tool: level shifts, spikes, gaps, estimates, renames, stale sources.

Pure: reads a tool's `ToolRow`, its `MetricTrend` inputs and its stale-source rows.
"""

from __future__ import annotations

from collections.abc import Iterable

from tracker.reports.model import MetricTrend
from tracker.reports.rows import StaleRow, ToolRow
from tracker.reports.thresholds import COUNTING_CHANGE_MONTH

__all__ = ["tool_flags"]


def _metric_flags(m: str, mt: MetricTrend) -> list[dict[str, str]]:
    """Flags of one metric's series: a kept level shift, a one-off spike, gaps, estimates."""
    flags: list[dict[str, str]] = []
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
        flags.append({"kind": "estimate", "text": f"{m}: {i['estimate_periods']} month(s) {what}"})
    return flags


def _identity_flags(tool: ToolRow) -> list[dict[str, str]]:
    """Flags of the tool itself: renamed repo or package, archived, dropped from the catalog."""
    flags: list[dict[str, str]] = []
    full, cat = tool.full_name, tool.catalog_name
    if full and cat and full.lower() != cat.lower():
        flags.append({"kind": "renamed", "text": f"repo renamed: {cat} now answers as {full}"})
    if tool.formerly:
        flags.append({"kind": "renamed", "text": "formerly " + ", ".join(tool.formerly)})
    if len(tool.pypi_packages or ()) > 1:
        flags.append(
            {
                "kind": "packages",
                "text": "downloads sum "
                + ", ".join(tool.pypi_packages or ())
                + " (renames/splits)",
            }
        )
    if tool.archived:
        flags.append({"kind": "archived", "text": "repository is archived"})
    if not tool.in_catalog:
        flags.append({"kind": "catalog", "text": "no longer in the catalog; stored data kept"})
    return flags


def tool_flags(
    tool: ToolRow, metrics: dict[str, MetricTrend], stale: Iterable[StaleRow]
) -> list[dict[str, str]]:
    """Every flag of ``tool``, in the order the report lists them."""
    flags = [f for m, mt in metrics.items() for f in _metric_flags(m, mt)]
    flags += _identity_flags(tool)
    for row in stale:
        # the error itself is long and the same for many tools: the text names the source,
        # the detail (trends.json) and the source-health section carry the message
        flags.append(
            {"kind": "stale", "text": f"last {row.source} collection failed", "detail": row.error}
        )
    if tool.trackable and not metrics and tool.n_releases == 0:
        flags.append({"kind": "no-data", "text": "no stars, downloads or releases stored"})
    return flags
