"""Findings both the HTML page and summary.md state: failed sources, flag counts, skill sentences."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tracker.reports.model import Analysis, SkillSummary, ToolTrend
from tracker.reports.text import _pct, _pp

_STALE_TEXT = re.compile(r"^last (\S+) collection failed$")


def _flag_source(flag: dict[str, str]) -> str | None:
    """The source of a 'stale' flag ("last github collection failed"), else None."""
    found = _STALE_TEXT.match(flag.get("text", "")) if flag.get("kind") == "stale" else None
    return found.group(1) if found else None


def _down_sources(a: Analysis) -> dict[str, list[ToolTrend]]:
    """Sources whose last run stored nothing (status failed), with the tools it left stale.

    Their per-tool flag says the same thing in every row; it is said once per source instead
    (the missing-data banner and the sources table), and the rows keep the other flags.
    """
    failed = {s["source"] for s in a.sources if s["last_status"] == "failed"}
    down: dict[str, list[ToolTrend]] = {}
    for t in a.tools:
        for f in t.flags:
            src = _flag_source(f)
            if src in failed:
                down.setdefault(str(src), []).append(t)
    return down


def _row_flags(t: ToolTrend, down: dict[str, list[ToolTrend]]) -> list[dict[str, str]]:
    return [f for f in t.flags if _flag_source(f) not in down]


def _down_notes(down: dict[str, list[ToolTrend]], escape: Callable[[object], str]) -> list[str]:
    """One sentence per failed source; its error (which may quote upstream text) goes through
    ``escape``, tracker's own words keep their `command` spans for the caller to render."""
    notes = []
    for src, tools in sorted(down.items()):
        details = [f.get("detail", "") for t in tools for f in t.flags if _flag_source(f) == src]
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


def _source_state(s: dict[str, Any], down: dict[str, list[ToolTrend]]) -> str:
    problems = list(s["problems"])
    if s["source"] in down:
        problems.append(f"{len(down[s['source']])} tools not collected")
    return "; ".join(problems) or "ok"


def _flag_counts(a: Analysis) -> tuple[int, int, str]:
    """(tools with a flag, tracked tools, "kind: tools, ...") counting tools, not flags."""
    tracked = [t for t in a.tools if t.trackable]
    by_kind: dict[str, set[str]] = {}
    for t in tracked:
        for f in t.flags:
            by_kind.setdefault(f["kind"], set()).add(t.tool_id)
    flagged = sum(bool(t.flags) for t in tracked)
    kinds = ", ".join(f"{k}: {len(v)}" for k, v in sorted(by_kind.items())) or "none"
    return flagged, len(tracked), kinds


def _skill_sentence(s: SkillSummary) -> str:
    g = s.growth
    bits = []
    if g["downloads_growth"] is not None:
        bits.append(
            f"downloads {_pct(g['downloads_growth'])} (last 4 quarters vs the 4 before; "
            f"{_pct(g['downloads_growth_relative'])} relative to all tracked tools)"
        )
    if g["stars_growth"] is not None:
        bits.append(
            f"new stars {_pct(g['stars_growth'])} ({_pct(g['stars_growth_relative'])} relative)"
        )
    text = f"{s.title}: " + ("; ".join(bits) if bits else "not enough data to measure growth") + "."
    text += f" Label: {s.label} ({s.reason})."
    if s.share_metric:
        if s.winners:
            text += (
                " Gaining share of "
                + s.share_metric
                + ": "
                + ", ".join(
                    f"{w['name']} {_pp(w[f'{s.share_metric}_share_change_pp'])}" for w in s.winners
                )
                + "."
            )
        if s.losers:
            text += (
                " Losing share: "
                + ", ".join(
                    f"{w['name']} {_pp(w[f'{s.share_metric}_share_change_pp'])}" for w in s.losers
                )
                + "."
            )
    return text
