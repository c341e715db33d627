"""Findings both the HTML page and summary.md state: failed sources, flag counts, skill sentences."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tracker.reports.model import Analysis, SkillSummary, ToolTrend
from tracker.reports.text import fmt_pct, fmt_pp

__all__ = [
    "down_notes",
    "down_sources",
    "flag_counts",
    "flag_source",
    "movers",
    "row_flags",
    "skill_sentence",
    "source_state",
]

_STALE_TEXT = re.compile(r"^last (\S+) collection failed$")


def flag_source(flag: dict[str, str]) -> str | None:
    """The source of a 'stale' flag ("last github collection failed"), else None."""
    found = _STALE_TEXT.match(flag.get("text", "")) if flag.get("kind") == "stale" else None
    return found.group(1) if found else None


def down_sources(a: Analysis) -> dict[str, list[ToolTrend]]:
    """Sources whose last run stored nothing (status failed), with the tools it left stale.

    Their per-tool flag says the same thing in every row; it is said once per source instead
    (the missing-data banner and the sources table), and the rows keep the other flags.
    """
    failed = {s["source"] for s in a.sources if s["last_status"] == "failed"}
    down: dict[str, list[ToolTrend]] = {}
    for t in a.tools:
        for f in t.flags:
            src = flag_source(f)
            if src in failed:
                down.setdefault(str(src), []).append(t)
    return down


def row_flags(t: ToolTrend, down: dict[str, list[ToolTrend]]) -> list[dict[str, str]]:
    return [f for f in t.flags if flag_source(f) not in down]


def down_notes(down: dict[str, list[ToolTrend]], escape: Callable[[object], str]) -> list[str]:
    """One sentence per failed source; its error (which may quote upstream text) goes through
    ``escape``, tracker's own words keep their `command` spans for the caller to render."""
    notes = []
    for src, tools in sorted(down.items()):
        details = [f.get("detail", "") for t in tools for f in t.flags if flag_source(f) == src]
        # the failure itself (the request that was tried), else the first; its first part only
        tried = [d for d in details if "not tried after" not in d]
        detail = (tried or details or [""])[0]
        detail = re.split(r"; (?=\S+: |not (?:fully )?collected)", detail)[0]
        detail = re.sub(r"(https?://[^/\s;]+)[^\s;]*", r"\1/…", detail)
        notes.append(
            f"the last `{src}` collection failed for all {len(tools)} tools it covers"
            + (f" ({escape(detail)})" if detail else "")
            + f"; tool rows do not repeat it (run `tracker collect --source {src}` again)"
        )
    return notes


def source_state(s: dict[str, Any], down: dict[str, list[ToolTrend]]) -> str:
    problems = list(s["problems"])
    if s["source"] in down:
        problems.append(f"{len(down[s['source']])} tools not collected")
    return "; ".join(problems) or "ok"


def flag_counts(a: Analysis) -> tuple[int, int, str]:
    """(tools with a flag, tracked tools, "kind: tools, ...") counting tools, not flags."""
    tracked = [t for t in a.tools if t.trackable]
    by_kind: dict[str, set[str]] = {}
    for t in tracked:
        for f in t.flags:
            by_kind.setdefault(f["kind"], set()).add(t.tool_id)
    flagged = sum(bool(t.flags) for t in tracked)
    kinds = ", ".join(f"{k}: {len(v)}" for k, v in sorted(by_kind.items())) or "none"
    return flagged, len(tracked), kinds


def movers(s: SkillSummary, tools: list[dict[str, Any]], paren: bool = False) -> str:
    """'Airflow +3.1 pp, Dagster +1.2 pp': tools and their change of share (pp in parentheses
    with ``paren``)."""
    col = f"{s.share_metric}_share_change_pp"
    if paren:
        return ", ".join(f"{w['name']} ({fmt_pp(w[col])})" for w in tools)
    return ", ".join(f"{w['name']} {fmt_pp(w[col])}" for w in tools)


def skill_sentence(s: SkillSummary) -> str:
    g = s.growth
    bits = []
    if g["downloads_growth"] is not None:
        bits.append(
            f"downloads {fmt_pct(g['downloads_growth'])} (last 4 quarters vs the 4 before; "
            f"{fmt_pct(g['downloads_growth_relative'])} relative to all tracked tools)"
        )
    if g["stars_growth"] is not None:
        bits.append(
            f"new stars {fmt_pct(g['stars_growth'])} ({fmt_pct(g['stars_growth_relative'])} relative)"
        )
    text = f"{s.title}: " + ("; ".join(bits) if bits else "not enough data to measure growth") + "."
    text += f" Label: {s.label} ({s.reason})."
    if s.share_metric:
        if s.winners:
            text += " Gaining share of " + s.share_metric + ": " + movers(s, s.winners) + "."
        if s.losers:
            text += " Losing share: " + movers(s, s.losers) + "."
    return text
