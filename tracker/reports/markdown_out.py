"""summary.md: the report's findings in prose and tables."""

from __future__ import annotations

from tracker.reports import findings as fnd
from tracker.reports import thresholds as th
from tracker.reports.model import Analysis, ToolTrend
from tracker.reports.text import fmt_pct, fmt_when, md_escape

__all__ = ["render_markdown"]


def _intro(a: Analysis, down: dict[str, list[ToolTrend]]) -> list[str]:
    """Title, the rule in one paragraph, missing data and the counts of labels."""
    lines = [
        f"# Tool trends as of {a.as_of.isoformat()}",
        "",
        "Each label compares the last 12 months with the 12 before in three readings: the plain "
        "change, the change of the typical month (robust to one-off spikes) and the change "
        "relative to the median tracked tool (the market's drift). A tool is rising or declining "
        f"only when all three agree (rising: at least {fmt_pct(th.RISE['r'])} plain and "
        f"{fmt_pct(th.RISE['rm'])} on the other two; declining: at most {fmt_pct(th.FALL['r'])} and "
        f"{fmt_pct(th.FALL['rm'])}); a tool's own level shift is kept and flagged, never removed. "
        "Labels resting on release cadence alone are low confidence.",
        "",
    ]
    missing = list(a.missing) + fnd.down_notes(down, md_escape)
    if missing:
        # tracker's own sentences (no upstream text): their `commands` stay Markdown code
        lines += ["## Missing data", ""] + [f"- {m}" for m in missing] + [""]
    n_r = [t for t in a.tools if t.label == "rising"]
    n_d = [t for t in a.tools if t.label == "declining"]
    return [
        *lines,
        "## Summary",
        "",
        f"{sum(t.trackable for t in a.tools)} tools tracked: {len(n_r)} rising, {len(n_d)} "
        f"declining, {sum(t.label == 'dormant' for t in a.tools)} dormant, "
        f"{sum(t.label == 'insufficient data' and t.trackable for t in a.tools)} with too little data; "
        f"{len(a.not_trackable)} not trackable.",
        "",
    ]


def _skills(a: Analysis) -> list[str]:
    """The skills table and one sentence per skill."""
    e = md_escape
    lines = [
        "## Skills",
        "",
        "| skill | verdict | downloads (4q vs 4q) | relative | new stars | relative | gaining share | losing share |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for s in a.skills:
        g = s.growth
        win = fnd.movers(s, s.winners)
        lose = fnd.movers(s, s.losers)
        lines.append(
            f"| {e(s.title)} | {e(s.label)} | {fmt_pct(g['downloads_growth'])} | "
            f"{fmt_pct(g['downloads_growth_relative'])} | {fmt_pct(g['stars_growth'])} | "
            f"{fmt_pct(g['stars_growth_relative'])} | {e(win or '-')} | {e(lose or '-')} |"
        )
    lines.append("")
    for s in a.skills:
        lines += [f"- {e(fnd.skill_sentence(s))}"]
    lines.append("")
    return lines


def _leaders(a: Analysis) -> list[str]:
    """The rising and the declining tools, each with its evidence."""
    e = md_escape
    lines: list[str] = []
    for label in ("rising", "declining"):
        # a label resting on release cadence alone (low confidence) never heads the list
        picked = sorted(
            (t for t in a.tools if t.label == label), key=lambda t: t.confidence == "low"
        )
        lines += [f"## {label.capitalize()} tools", ""]
        if not picked:
            lines += [f"No tool is {label} on the evidence.", ""]
            continue
        lines += ["| tool | skill | driven by | evidence |", "|---|---|---|---|"]
        for t in picked:
            driver = f"{t.driver} (low confidence)" if t.confidence == "low" else t.driver
            lines.append(f"| {e(t.name)} | {e(t.skill_title)} | {e(driver)} | {e(t.reason)} |")
        lines.append("")
    return lines


def _all_tools(a: Analysis, down: dict[str, list[ToolTrend]]) -> list[str]:
    """Per skill, every tracked tool with its labels and flags."""
    e = md_escape
    lines = ["## All tools", ""]
    for s in a.skills:
        tools = [t for t in a.tools if t.skill == s.skill and t.trackable]
        if not tools:
            continue
        lines += [
            f"### {e(s.title)}",
            "",
            "| tool | headline | driven by | downloads | stars | releases | job posts "
            "| SO questions | flags |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for t in tools:
            cells = [
                e(t.metrics[m].label if m in t.metrics else "no data")
                for m in ("downloads", "stars", "releases", "job_posts", "questions")
            ]
            flags = "; ".join(f["text"] for f in fnd.row_flags(t, down))
            lines.append(
                f"| {e(t.name)} | {e(t.label)} | {e(t.driver or '-')} | {' | '.join(cells)} | "
                f"{e(flags or '-')} |"
            )
        lines.append("")
    return lines


def _quality(a: Analysis, down: dict[str, list[ToolTrend]]) -> list[str]:
    """The sources' health, the flag counts and the tools without a public signal."""
    e = md_escape
    flagged, tracked, kinds = fnd.flag_counts(a)
    lines = [
        "## Data quality",
        "",
        "| source | last run | status | last success | errors, 7 days | state |",
        "|---|---|---|---|---:|---|",
    ]
    for src in a.sources:
        lines.append(
            f"| {e(src['source'])} | {e(fmt_when(src['last_run_at']))} | {e(src['last_status'])} "
            f"| {e(fmt_when(src['last_success_at']))} | {src['errors_7d']} "
            f"| {e(fnd.source_state(src, down))} |"
        )
    if not a.sources:
        lines.append("| - | no collection run recorded | - | - | - | - |")
    lines += [
        "",
        f"{flagged} of {tracked} tracked tools carry data-quality flags; tools per kind of "
        f"flag: {e(kinds)}."
        + (
            " A source whose last collection failed for every tool ("
            + e(", ".join(sorted(down)))
            + ") is said once, under Missing data, not in each tool's row."
            if down
            else ""
        ),
    ]
    lines += ["", "## Not trackable", ""]
    lines += [f"- **{e(n['name'])}** ({e(n['skill'])}): {e(n['reason'])}" for n in a.not_trackable]
    if not a.not_trackable:
        lines.append("Every catalog tool has a public signal.")
    lines.append("")
    return lines


def render_markdown(a: Analysis) -> str:
    """summary.md of ``a``."""
    down = fnd.down_sources(a)
    lines = _intro(a, down) + _skills(a) + _leaders(a) + _all_tools(a, down) + _quality(a, down)
    return "\n".join(lines)
