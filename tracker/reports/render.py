"""Write the report files: index.html (offline, plotly.js embedded once), summary.md, trends.json."""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker import __version__
from tracker.clock import Clock, naive_utc, utc_now
from tracker.reports import analytics as an

if TYPE_CHECKING:
    import duckdb

__all__ = ["ReportResult", "md_escape", "script_json", "write_report"]

PALETTE = (
    "#1f6fb4",
    "#e8710a",
    "#2a9d3a",
    "#d62839",
    "#8c5fc0",
    "#8c564b",
    "#e05fb0",
    "#12a4b8",
)
OTHER_COLOUR = "#a8b0bd"
LABEL_CLASS = {
    "rising": "rising",
    "declining": "declining",
    "stable": "stable",
    "dormant": "dormant",
    "insufficient data": "insufficient",
}


@dataclass(frozen=True, slots=True)
class ReportResult:
    """Paths written by a report and what data was missing."""

    files: tuple[Path, ...]
    missing: tuple[str, ...]


# ---- escaping ---------------------------------------------------------------------------------
def esc(value: object) -> str:
    """Return ``value`` as text safe in HTML element content and quoted attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def script_json(value: object) -> str:
    """Return JSON safe inside a <script> element (no `<`, `>`, `&`, U+2028/9 left raw)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _code_spans(escaped: str) -> str:
    """Turn `backticked` parts of already-escaped text into <code> elements."""
    return re.sub(r"`([^`<>]+)`", r"<code>\1</code>", escaped)


_MD_SPECIAL = re.compile(r"[\\`*\[\]<>|~]")
_MD_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")  # only an `&` that would start an entity
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")  # snake_case stays as is


def md_escape(value: object) -> str:
    """Return ``value`` as inert Markdown table/prose text: Markdown backslash escapes for the
    characters that would change its meaning (``|`` in tables, emphasis, links, code, tags),
    never HTML entities, so ``Weights & Biases`` stays readable in the raw file."""
    text = "" if value is None else str(value)
    text = _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text)
    text = _MD_ENTITY.sub(r"\\&", text)
    text = _MD_UNDERSCORE.sub(r"\\_", text)
    return re.sub(r"[\r\n\u2028\u2029]+", " ", text)


def _plot_text(value: object) -> str:
    """Text for plotly labels: plotly reads a few HTML-like tags, so escape them."""
    return html.escape("" if value is None else str(value), quote=False)


# ---- formatting -------------------------------------------------------------------------------
def _pct(f: Any) -> str:
    if f is None:
        return "n/a"
    return f"{(float(f) - 1) * 100:+.0f}%"


def _num(v: Any) -> str:
    if v is None:
        return "n/a"
    v = float(v)
    for div, suf in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.1f}{suf}"
    return f"{v:.0f}"


def _share(v: Any) -> str:
    return "n/a" if v is None else f"{100 * float(v):.1f}%"


def _pp(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):+.1f} pp"


def _p(v: Any) -> str:
    return "n/a" if v is None else ("<0.001" if float(v) < 0.001 else f"{float(v):.3f}")


def _log_ticks(values: list[float]) -> dict[str, Any]:
    """Explicit 1-2-5 ticks for a log axis (plotly's default labels every minor tick)."""
    lo, hi = min(values), max(values)
    vals: list[float] = []
    k = math.floor(math.log10(lo)) if lo > 0 else 0
    while 10**k <= hi * 10:
        vals += [m * 10**k for m in (1, 2, 5) if lo / 1.5 <= m * 10**k <= hi * 1.5]
        k += 1
    if len(vals) > 8:
        vals = [v for v in vals if str(int(v)).startswith("1")] or vals
    return {"tickvals": vals, "ticktext": [_num(v) for v in vals]}


def _badge(label: str) -> str:
    return f'<span class="badge {LABEL_CLASS.get(label, "insufficient")}">{esc(label)}</span>'


# ---- charts -----------------------------------------------------------------------------------
class _Charts:
    """Collects plotly figures as (div id, figure JSON) and renders their divs."""

    def __init__(self) -> None:
        self.figs: list[tuple[str, str]] = []

    def add(self, fig: Any) -> str:
        import plotly.io as pio

        div_id = f"chart-{len(self.figs) + 1}"
        data = json.loads(pio.to_json(fig, validate=False))
        self.figs.append((div_id, script_json(data)))
        return f'<div class="chart" id="{div_id}" data-chart="1"></div>'

    def script(self) -> str:
        """Draw each chart when it nears the viewport (a page of 300+ tools stays fast to open);
        without IntersectionObserver every chart is drawn at once."""
        lines = ["(function(){", "var cfg={displaylogo:false,responsive:true};", "var figs={};"]
        for div_id, payload in self.figs:
            lines.append(f"figs[{json.dumps(div_id)}]={payload};")
        lines.append(
            "function draw(id){var f=figs[id];if(!f)return;delete figs[id];"
            "Plotly.newPlot(id,f.data,f.layout,cfg);}"
            "if('IntersectionObserver' in window){"
            "var io=new IntersectionObserver(function(es){es.forEach(function(e){"
            "if(e.isIntersecting){io.unobserve(e.target);draw(e.target.id);}});},"
            "{rootMargin:'800px 0px'});"
            "Object.keys(figs).forEach(function(id){var el=document.getElementById(id);"
            "if(el){io.observe(el);}else{draw(id);}});"
            "}else{Object.keys(figs).forEach(draw);}"
            "window.addEventListener('beforeprint',function(){Object.keys(figs).forEach(draw);});"
        )
        lines.append("})();")
        return "\n".join(lines)


def _layout(
    title: str, *, y_title: str, log_y: bool = False, percent: bool = False
) -> dict[str, Any]:
    return {
        # the title sits just above the plot area, below the band the plotly toolbar (modebar)
        # takes at the top right, so the toolbar never covers it
        "title": {
            "text": _plot_text(title),
            "font": {"size": 17},
            "x": 0.01,
            "xanchor": "left",
            "y": 1,
            "yref": "paper",
            "yanchor": "bottom",
            "pad": {"b": 10},
        },
        "font": {"family": "Segoe UI, Helvetica Neue, Arial, DejaVu Sans, sans-serif", "size": 13},
        "margin": {"l": 60, "r": 12, "t": 74, "b": 40},
        "legend": {"orientation": "h", "y": -0.14, "font": {"size": 12}},
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "#ffffff",
        "hovermode": "x unified",
        "xaxis": {"gridcolor": "#eef1f5", "linecolor": "#c9d0da"},
        "yaxis": {
            "title": {"text": _plot_text(y_title)},
            "gridcolor": "#eef1f5",
            "rangemode": "tozero",
            "type": "log" if log_y else "linear",
            "tickformat": ".0%" if percent else "~s",
        },
    }


def _series_meta(
    names: dict[str, str], ranks: dict[str, int], series: list[str]
) -> list[tuple[str, str, str]]:
    """(series key, display name, colour) ordered by rank; '' is 'other'."""
    ordered = sorted(series, key=lambda s: (s == "", ranks.get(s, 99), s))
    out = []
    for s in ordered:
        if s == "":
            out.append((s, "other tools", OTHER_COLOUR))
        else:
            rank = ranks.get(s, len(PALETTE))
            out.append((s, names.get(s, s), PALETTE[(rank - 1) % len(PALETTE)]))
    return out


def _share_chart(
    charts: _Charts,
    shares: dict[str, list[tuple[str, Any, Any, Any, Any]]],
    names: dict[str, str],
    ranks: dict[str, int],
    col: int,
    what: str,
) -> str:
    import plotly.graph_objects as go

    fig = go.Figure()
    drawn = 0
    for key, name, colour in _series_meta(names, ranks, list(shares)):
        pts = [(p[0], p[col]) for p in shares[key]]
        pts = [(q, v) for q, v in pts if v is not None]
        if not pts:
            continue
        drawn += 1
        fig.add_trace(
            go.Scatter(
                x=[q for q, _ in pts],
                y=[v for _, v in pts],
                name=_plot_text(name),
                mode="lines",
                stackgroup="share",
                line={"color": colour, "width": 1},
                fillcolor=colour,
                hovertemplate="%{y:.1%}",
            )
        )
    if not drawn:
        return ""
    layout = _layout(f"Share of the skill's {what} per quarter", y_title="share", percent=True)
    layout["yaxis"]["range"] = [0, 1]
    fig.update_layout(**layout)
    return charts.add(fig)


def _skill_charts(
    charts: _Charts, skill: an.SkillSummary, a: an.Analysis, names: dict[str, str]
) -> str:
    import plotly.graph_objects as go

    monthly = a.charts["monthly"].get(skill.skill, {})
    ranks = a.charts["ranks"].get(skill.skill, {})
    meta = _series_meta(names, ranks, list(monthly))
    parts: list[str] = []
    not_charted: list[str] = []  # panels without data: said in one line, not drawn as boxes

    def line_chart(idx: int, title: str, y_title: str, log_y: bool, missing: str) -> str:
        fig = go.Figure()
        drawn = 0
        for key, name, colour in meta:
            pts = [(p[0], p[1 + idx]) for p in monthly[key]]
            pts = [(m, v) for m, v in pts if v is not None and (not log_y or v > 0)]
            if not pts:
                continue
            drawn += 1
            fig.add_trace(
                go.Scatter(
                    x=[m for m, _ in pts],
                    y=[v for _, v in pts],
                    name=_plot_text(name),
                    mode="lines",
                    line={
                        "color": colour,
                        "width": 3 if key else 2,
                        "dash": "dot" if not key else "solid",
                    },
                    hovertemplate="%{y:,.0f}",
                )
            )
        if not drawn:
            not_charted.append(missing)
            return ""
        layout = _layout(title, y_title=y_title, log_y=log_y)
        if log_y:
            ys = [float(v) for tr in fig.data for v in tr.y]
            layout["yaxis"].update(_log_ticks(ys))
        fig.update_layout(**layout)
        return charts.add(fig)

    parts.append(
        line_chart(
            0, "New GitHub stars per month", "stars", False, "new GitHub stars (no star history)"
        )
    )
    parts.append(
        line_chart(
            1,
            "PyPI downloads per month (log scale)",
            "downloads",
            True,
            "downloads (no download figures)",
        )
    )

    shares = a.charts["shares"].get(skill.skill, {})
    col = {"downloads": 2, "stars": 1}.get(skill.share_metric or "", 0)
    share_html = (
        _share_chart(charts, shares, names, ranks, col, "downloads" if col == 2 else "new stars")
        if col
        else ""
    )
    if not share_html:
        not_charted.append("share within the skill (no new stars or downloads)")
    parts.append(share_html)
    # demand beside adoption: each tool's share of the skill's job posts and questions
    for dcol, what in ((3, "job posts (HN Who is hiring)"), (4, "Stack Overflow questions")):
        html_ = _share_chart(charts, shares, names, ranks, dcol, what)
        if html_:
            parts.append(html_)
        else:
            not_charted.append(f"share of {what} (no demand data)")

    fig = go.Figure()
    drawn = 0
    for key, name, colour in meta:
        pts = [(p[0], p[3]) for p in monthly[key] if p[3]]
        if not pts:
            continue
        drawn += 1
        fig.add_trace(
            go.Scatter(
                x=[m for m, _ in pts],
                y=[_plot_text(name)] * len(pts),
                name=_plot_text(name),
                mode="markers",
                marker={
                    "color": colour,
                    "size": [min(8 + 4 * int(v), 26) for _, v in pts],
                    "line": {"width": 1, "color": "#ffffff"},
                },
                customdata=[int(v) for _, v in pts],
                hovertemplate="%{customdata} release(s)<extra>%{y}</extra>",
                showlegend=False,
            )
        )
    if drawn:
        layout = _layout("Stable releases per month (dot size = count)", y_title="")
        layout["yaxis"] = {"automargin": True, "gridcolor": "#eef1f5", "type": "category"}
        layout["hovermode"] = "closest"
        fig.update_layout(**layout)
        parts.append(charts.add(fig))
    else:
        not_charted.append("release timeline (no releases)")
    drawn_html = "".join(parts)
    line = (
        '<p class="nochart small muted">Not charted for this skill, no data stored: '
        + esc(", ".join(not_charted))
        + ".</p>"
        if not_charted
        else ""
    )
    return (f'<div class="charts">{drawn_html}</div>' if drawn_html else "") + line


# ---- HTML -------------------------------------------------------------------------------------
def _metric_cell(mt: an.MetricTrend | None) -> str:
    if mt is None:
        return '<span class="muted small">no data</span>'
    i = mt.inputs
    extra = ""
    if mt.label != "insufficient data":
        extra = (
            f'<div class="small muted" title="plain / typical period / vs the median tool">'
            f"{esc(_pct(i.get('r')))} · {esc(_pct(i.get('rm')))} · {esc(_pct(i.get('rr')))}</div>"
        )
    if mt.confidence == "low" and mt.label in ("rising", "declining"):
        extra += '<div class="small muted">low confidence</div>'
    return _badge(mt.label) + extra


_STALE_TEXT = re.compile(r"^last (\S+) collection failed$")


def _flag_source(flag: dict[str, str]) -> str | None:
    """The source of a 'stale' flag ("last github collection failed"), else None."""
    found = _STALE_TEXT.match(flag.get("text", "")) if flag.get("kind") == "stale" else None
    return found.group(1) if found else None


def _down_sources(a: an.Analysis) -> dict[str, list[an.ToolTrend]]:
    """Sources whose last run stored nothing (status failed), with the tools it left stale.

    Their per-tool flag says the same thing in every row; it is said once per source instead
    (the missing-data banner and the sources table), and the rows keep the other flags.
    """
    failed = {s["source"] for s in a.sources if s["last_status"] == "failed"}
    down: dict[str, list[an.ToolTrend]] = {}
    for t in a.tools:
        for f in t.flags:
            src = _flag_source(f)
            if src in failed:
                down.setdefault(str(src), []).append(t)
    return down


def _row_flags(t: an.ToolTrend, down: dict[str, list[an.ToolTrend]]) -> list[dict[str, str]]:
    return [f for f in t.flags if _flag_source(f) not in down]


def _down_notes(down: dict[str, list[an.ToolTrend]], escape: Callable[[object], str]) -> list[str]:
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


def _when(value: Any) -> str:
    """A stored UTC time as ``2026-11-30 21:52 UTC`` (no seconds, no microseconds)."""
    if value is None:
        return "never"
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _tool_rows(
    tools: list[an.ToolTrend], colours: dict[str, str], down: dict[str, list[an.ToolTrend]]
) -> str:
    rows = []
    for t in tools:
        colour = colours.get(t.tool_id)
        swatch = f'<span class="swatch" style="background:{colour}"></span>' if colour else ""
        desc = t.info.get("description")
        desc_html = f'<div class="small muted">{esc(desc)}</div>' if desc else ""
        flags = "".join(f"<li>{esc(f['text'])}</li>" for f in _row_flags(t, down))
        flags_html = f'<ul class="flags">{flags}</ul>' if flags else ""
        rows.append(
            "<tr>"
            f"<td>{swatch}<b>{esc(t.name)}</b>{desc_html}</td>"
            f"<td>{_badge(t.label)}<div class='small muted'>{esc(t.driver or '')}</div></td>"
            f"<td>{_metric_cell(t.metrics.get('downloads'))}</td>"
            f"<td>{_metric_cell(t.metrics.get('stars'))}</td>"
            f"<td>{_metric_cell(t.metrics.get('releases'))}</td>"
            f"<td>{_metric_cell(t.metrics.get('job_posts'))}</td>"
            f"<td>{_metric_cell(t.metrics.get('questions'))}</td>"
            f"<td class='small'>{esc(t.reason)}{flags_html}</td>"
            "</tr>"
        )
    return (
        "<table><thead><tr><th>tool</th><th>headline</th><th>downloads</th><th>stars</th>"
        "<th>releases</th><th>job posts</th><th>SO questions</th>"
        "<th>evidence and data-quality flags</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _leaderboard(tools: list[an.ToolTrend], label: str) -> str:
    picked = [t for t in tools if t.label == label and t.driver]

    def change(t: an.ToolTrend) -> float:
        i = t.metrics[t.driver or ""].inputs
        g = i.get("rr") if i.get("rr") is not None else i.get("r")
        return float(g) if g is not None else 1.0

    # a label resting on release cadence alone (low confidence) never heads the list
    picked.sort(
        key=lambda t: (t.confidence == "low", -change(t) if label == "rising" else change(t))
    )
    if not picked:
        return f"<p class='muted'>No tool is {esc(label)} on the evidence.</p>"
    rows = []
    for t in picked[:25]:
        assert t.driver is not None
        i = t.metrics[t.driver].inputs
        low = " <span class='small muted'>(low confidence)</span>" if t.confidence == "low" else ""
        rows.append(
            "<tr>"
            f"<td><b>{esc(t.name)}</b>{low}<div class='small muted'>{esc(t.skill_title)}</div></td>"
            f"<td>{esc(t.driver)}</td>"
            f"<td class='num'>{esc(_pct(i['r']))}</td>"
            f"<td class='num'>{esc(_pct(i['rm']))}</td>"
            f"<td class='num'>{esc(_pct(i['rr']))}</td>"
            f"<td class='small'>{esc(t.metrics[t.driver].reason)}</td>"
            "</tr>"
        )
    return (
        "<table><thead><tr><th>tool</th><th>driven by</th>"
        "<th class='num'>year on year</th><th class='num'>typical period</th>"
        "<th class='num'>vs the median tool</th>"
        "<th>evidence</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _skills_table(a: an.Analysis) -> str:
    rows = []
    for s in a.skills:
        g = s.growth
        win = ", ".join(
            f"{w['name']} ({_pp(w[f'{s.share_metric}_share_change_pp'])})" for w in s.winners
        )
        lose = ", ".join(
            f"{w['name']} ({_pp(w[f'{s.share_metric}_share_change_pp'])})" for w in s.losers
        )
        rows.append(
            "<tr>"
            f"<td><a href='#skill-{esc(s.skill)}'><b>{esc(s.title)}</b></a>"
            f"<div>{_badge(s.label)}</div><div class='small muted'>{esc(s.reason)}</div></td>"
            f"<td class='num'>{esc(_pct(g['downloads_growth']))}<div class='small muted'>"
            f"{esc(_pct(g['downloads_growth_relative']))} rel.</div></td>"
            f"<td class='num'>{esc(_pct(g['stars_growth']))}<div class='small muted'>"
            f"{esc(_pct(g['stars_growth_relative']))} rel.</div></td>"
            f"<td class='num'>{s.counts['rising']}</td><td class='num'>{s.counts['declining']}</td>"
            f"<td class='num'>{s.counts['dormant']}</td>"
            f"<td class='small'>{esc(win or '-')}</td><td class='small'>{esc(lose or '-')}</td>"
            "</tr>"
        )
    return (
        "<table><thead><tr><th>skill</th><th class='num'>downloads, last 4 quarters vs 4 before</th>"
        "<th class='num'>new stars, same</th><th class='num'>rising</th><th class='num'>declining</th>"
        "<th class='num'>dormant</th><th>gaining share</th><th>losing share</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _source_state(s: dict[str, Any], down: dict[str, list[an.ToolTrend]]) -> str:
    problems = list(s["problems"])
    if s["source"] in down:
        problems.append(f"{len(down[s['source']])} tools not collected")
    return "; ".join(problems) or "ok"


def _flag_counts(a: an.Analysis) -> tuple[int, int, str]:
    """(tools with a flag, tracked tools, "kind: tools, ...") counting tools, not flags."""
    tracked = [t for t in a.tools if t.trackable]
    by_kind: dict[str, set[str]] = {}
    for t in tracked:
        for f in t.flags:
            by_kind.setdefault(f["kind"], set()).add(t.tool_id)
    flagged = sum(bool(t.flags) for t in tracked)
    kinds = ", ".join(f"{k}: {len(v)}" for k, v in sorted(by_kind.items())) or "none"
    return flagged, len(tracked), kinds


def _data_quality(a: an.Analysis, down: dict[str, list[an.ToolTrend]]) -> str:
    src_rows = "".join(
        f"<tr><td>{esc(s['source'])}</td><td>{esc(_when(s['last_run_at']))}</td>"
        f"<td>{esc(s['last_status'])}</td><td>{esc(_when(s['last_success_at']))}</td>"
        f"<td class='num'>{s['errors_7d']}</td><td>{esc(_source_state(s, down))}</td></tr>"
        for s in a.sources
    )
    src = (
        "<table><thead><tr><th>source</th><th>last run</th><th>status</th><th>last success</th>"
        "<th class='num'>errors, 7 days</th><th>state</th></tr></thead><tbody>"
        + (src_rows or "<tr><td colspan='6' class='muted'>no collection run recorded</td></tr>")
        + "</tbody></table>"
    )
    flagged, tracked, kinds = _flag_counts(a)
    folded = (
        " A source whose last collection failed for every tool ("
        + ", ".join(sorted(down))
        + ") is said once, under Missing data, not in each tool's row."
        if down
        else ""
    )
    return (
        f"<h3>Sources</h3>{src}<h3>Flags</h3><p>{flagged} of {tracked} tracked tools carry "
        f"data-quality flags; tools per kind of flag: {esc(kinds)}. Each tool's flags are "
        f"listed in its skill's table.{esc(folded)}</p>"
    )


def _html(a: an.Analysis) -> str:
    charts = _Charts()
    names = {t.tool_id: t.name for t in a.tools}
    body: list[str] = []
    n_rising = sum(t.label == "rising" for t in a.tools)
    n_declining = sum(t.label == "declining" for t in a.tools)
    n_tracked = sum(t.trackable for t in a.tools)
    body.append(
        "<header class='top'><h1>Data-engineering and MLOps tool trends</h1>"
        f"<p>As of {esc(a.as_of.isoformat())} · labels compare the last 12 months with the 12 "
        f"before · tracker {esc(__version__)}</p></header><main>"
    )
    body.append(
        "<div class='kpis'>"
        f"<div class='kpi'><b>{n_tracked}</b>tools tracked</div>"
        f"<div class='kpi'><b style='color:var(--rising)'>{n_rising}</b>rising</div>"
        f"<div class='kpi'><b style='color:var(--declining)'>{n_declining}</b>declining</div>"
        f"<div class='kpi'><b>{len(a.not_trackable)}</b>not trackable</div></div>"
    )
    down = _down_sources(a)
    # the notes' error text is escaped first (and its backticks kept out of code spans)
    missing = [_code_spans(esc(m)) for m in a.missing] + [
        _code_spans(n) for n in _down_notes(down, lambda v: esc(v).replace("`", "&#96;"))
    ]
    if missing:
        body.append(
            "<section class='missing' id='missing'><b>Missing data.</b><ul>"
            + "".join(f"<li>{m}</li>" for m in missing)
            + "</ul></section>"
        )
    body.append("<h2>Skills</h2><section class='card'>" + _skills_table(a) + "</section>")
    body.append(
        "<h2>Leaderboard</h2><section class='card'><h3>Rising</h3>"
        + _leaderboard(a.tools, "rising")
        + "<h3>Declining</h3>"
        + _leaderboard(a.tools, "declining")
        + "<p class='small muted'>Each label needs three readings of the last 12 months vs the "
        "12 before to agree: plain, the typical month (spike-robust) and vs the median tracked "
        "tool. A tool's own level shift is kept and flagged; labels resting on release cadence "
        "alone are low confidence and listed last. trends.json carries every input.</p></section>"
    )
    for s in a.skills:
        skill_tools = [t for t in a.tools if t.skill == s.skill and t.trackable]
        if not skill_tools:
            continue
        ranks = a.charts["ranks"].get(s.skill, {})
        colours = {
            tid: PALETTE[(r - 1) % len(PALETTE)] for tid, r in ranks.items() if r <= an.TOP_N
        }
        body.append(
            f"<h2 id='skill-{esc(s.skill)}'>{esc(s.title)}</h2><section class='card'>"
            f"<p>{esc(_skill_sentence(s))}</p>"
            + _skill_charts(charts, s, a, names)
            + _tool_rows(skill_tools, colours, down)
            + "</section>"
        )
    body.append(
        "<h2>Data quality</h2><section class='card'>" + _data_quality(a, down) + "</section>"
    )
    nt = "".join(
        f"<tr><td><b>{esc(n['name'])}</b></td><td>{esc(n['skill'])}</td><td>{esc(n['reason'])}</td></tr>"
        for n in a.not_trackable
    )
    body.append(
        "<h2>Not trackable</h2><section class='card'>"
        + (
            "<table><thead><tr><th>tool</th><th>skill</th><th>why</th></tr></thead><tbody>"
            + nt
            + "</tbody></table>"
            if nt
            else "<p class='muted'>Every catalog tool has a public signal.</p>"
        )
        + "</section></main>"
    )
    template = resources.files("tracker.reports").joinpath("templates/page.html").read_text("utf-8")
    css = resources.files("tracker.reports").joinpath("templates/report.css").read_text("utf-8")
    plotly_js = _plotly_js()
    parts = {
        "TITLE": esc(f"tracker report {a.as_of.isoformat()}"),
        "CSS": css,
        "PLOTLY": plotly_js,
        "BODY": "\n".join(body),
        "SCRIPTS": charts.script(),
    }
    return re.sub(r"<!--(TITLE|CSS|PLOTLY|BODY|SCRIPTS)-->", lambda m: parts[m.group(1)], template)


def _plotly_js() -> str:
    """The bundled plotly.min.js of the installed plotly package (embedded once per page)."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return path.read_text(encoding="utf-8").replace("</script", "<\\/script")


def _skill_sentence(s: an.SkillSummary) -> str:
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


# ---- Markdown ---------------------------------------------------------------------------------
def _markdown(a: an.Analysis) -> str:
    e = md_escape
    lines = [
        f"# Tool trends as of {a.as_of.isoformat()}",
        "",
        "Each label compares the last 12 months with the 12 before in three readings: the plain "
        "change, the change of the typical month (robust to one-off spikes) and the change "
        "relative to the median tracked tool (the market's drift). A tool is rising or declining "
        f"only when all three agree (rising: at least {_pct(an.RISE['r'])} plain and "
        f"{_pct(an.RISE['rm'])} on the other two; declining: at most {_pct(an.FALL['r'])} and "
        f"{_pct(an.FALL['rm'])}); a tool's own level shift is kept and flagged, never removed. "
        "Labels resting on release cadence alone are low confidence.",
        "",
    ]
    down = _down_sources(a)
    missing = list(a.missing) + _down_notes(down, md_escape)
    if missing:
        # tracker's own sentences (no upstream text): their `commands` stay Markdown code
        lines += ["## Missing data", ""] + [f"- {m}" for m in missing] + [""]
    n_r = [t for t in a.tools if t.label == "rising"]
    n_d = [t for t in a.tools if t.label == "declining"]
    lines += [
        "## Summary",
        "",
        f"{sum(t.trackable for t in a.tools)} tools tracked: {len(n_r)} rising, {len(n_d)} "
        f"declining, {sum(t.label == 'dormant' for t in a.tools)} dormant, "
        f"{sum(t.label == 'insufficient data' and t.trackable for t in a.tools)} with too little data; "
        f"{len(a.not_trackable)} not trackable.",
        "",
        "## Skills",
        "",
        "| skill | verdict | downloads (4q vs 4q) | relative | new stars | relative | gaining share | losing share |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for s in a.skills:
        g = s.growth
        win = ", ".join(
            f"{w['name']} {_pp(w[f'{s.share_metric}_share_change_pp'])}" for w in s.winners
        )
        lose = ", ".join(
            f"{w['name']} {_pp(w[f'{s.share_metric}_share_change_pp'])}" for w in s.losers
        )
        lines.append(
            f"| {e(s.title)} | {e(s.label)} | {_pct(g['downloads_growth'])} | "
            f"{_pct(g['downloads_growth_relative'])} | {_pct(g['stars_growth'])} | "
            f"{_pct(g['stars_growth_relative'])} | {e(win or '-')} | {e(lose or '-')} |"
        )
    lines.append("")
    for s in a.skills:
        lines += [f"- {e(_skill_sentence(s))}"]
    lines.append("")
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
    lines += ["## All tools", ""]
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
            flags = "; ".join(f["text"] for f in _row_flags(t, down))
            lines.append(
                f"| {e(t.name)} | {e(t.label)} | {e(t.driver or '-')} | {' | '.join(cells)} | "
                f"{e(flags or '-')} |"
            )
        lines.append("")
    flagged, tracked, kinds = _flag_counts(a)
    lines += [
        "## Data quality",
        "",
        "| source | last run | status | last success | errors, 7 days | state |",
        "|---|---|---|---|---:|---|",
    ]
    for src in a.sources:
        lines.append(
            f"| {e(src['source'])} | {e(_when(src['last_run_at']))} | {e(src['last_status'])} "
            f"| {e(_when(src['last_success_at']))} | {src['errors_7d']} "
            f"| {e(_source_state(src, down))} |"
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
    return "\n".join(lines)


# ---- JSON -------------------------------------------------------------------------------------
def _json(a: an.Analysis) -> dict[str, Any]:
    from tracker.warehouse.report_queries import QUERIES

    return {
        "as_of": a.as_of.isoformat(),
        "tracker_version": __version__,
        "windows": {
            "labels": "later 365 days vs the 365 before, ending at each metric's window_end",
            "chart_months_end_before": a.windows.cur_month.isoformat(),
            "share_quarters_end_before": a.windows.cur_quarter.isoformat(),
        },
        "thresholds": {
            "rising_at_least": an.RISE,
            "declining_at_most": an.FALL,
            "min_z_counts": an.MIN_Z,
            "sub_windows_per_year": an.SUBS,
            "min_known_share_of_year": an.MIN_KNOWN,
            "min_volume_per_year": an.MIN_VOLUME,
            "min_coverage": an.MIN_COVERAGE,
            "min_baseline_tools": an.MIN_BASELINE_TOOLS,
            "step_factor": an.STEP_FACTOR,
            "step_min_level": an.STEP_MIN_LEVEL,
            "spike_factor": an.SPIKE_FACTOR,
            "dormant_months": an.DORMANT_MONTHS,
            "headline_order": list(an.HEADLINE_ORDER),
        },
        "missing": a.missing,
        "table_rows": a.table_rows,
        "baselines": a.baselines,
        "skills": [
            {
                "skill": s.skill,
                "title": s.title,
                "label": s.label,
                "driver": s.driver,
                "reason": s.reason,
                "metrics": s.metric_labels,
                "share_metric": s.share_metric,
                "growth": s.growth,
                "counts": s.counts,
                "winners": s.winners,
                "losers": s.losers,
                "shares": s.shares,
                "sql": "skill_shares",
            }
            for s in a.skills
        ],
        "tools": [
            {
                "tool_id": t.tool_id,
                "name": t.name,
                "skill": t.skill,
                "trackable": t.trackable,
                "label": t.label,
                "driver": t.driver,
                "confidence": t.confidence,
                "reason": t.reason,
                "metrics": {
                    m: {
                        "label": mt.label,
                        "confidence": mt.confidence,
                        "reason": mt.reason,
                        "inputs": mt.inputs,
                    }
                    for m, mt in t.metrics.items()
                },
                "flags": t.flags,
                "info": t.info,
            }
            for t in a.tools
        ],
        "sources": a.sources,
        "not_trackable": a.not_trackable,
        "sql": {"parameters": a.params, "queries": QUERIES},
    }


def write_report(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    as_of: date,
    *,
    clock: Clock = utc_now,
    save_labels: bool = True,
) -> ReportResult:
    """Write ``out_dir``/index.html, summary.md and trends.json for ``as_of`` (UTC date).

    With ``save_labels`` (the default) the labels also go to `tool_labels` / `skill_labels`:
    ``con`` must then be a write connection held under the writer lock.
    """
    analysis = an.analyse(con, as_of)
    if save_labels:
        from tracker.warehouse.labels import save_labels as save

        tool_rows, skill_rows = an.label_rows(analysis)
        save(con, as_of, tool_rows, skill_rows, naive_utc(clock()))
    out_dir.mkdir(parents=True, exist_ok=True)
    files = (out_dir / "index.html", out_dir / "summary.md", out_dir / "trends.json")
    files[0].write_text(_html(analysis), encoding="utf-8")
    files[1].write_text(_markdown(analysis), encoding="utf-8")
    files[2].write_text(
        json.dumps(_json(analysis), indent=1, ensure_ascii=False, default=str), encoding="utf-8"
    )
    return ReportResult(files=files, missing=tuple(analysis.missing))
