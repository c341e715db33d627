"""The plotly charts of the HTML report: per skill, monthly series, shares and releases."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tracker.reports.model import Analysis, SkillSummary
from tracker.reports.text import esc, fmt_num, plot_text, script_json

__all__ = ["OTHER_COLOUR", "PALETTE", "PLOTLY_TRACE_TYPES", "_Charts", "skill_charts"]


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
    return {"tickvals": vals, "ticktext": [fmt_num(v) for v in vals]}


# the trace types the vendored plotly.js basic bundle draws (templates/vendor/README.md)
PLOTLY_TRACE_TYPES = frozenset({"scatter", "bar", "pie"})


class _Charts:
    """Collects plotly figures as (div id, figure JSON) and renders their divs."""

    def __init__(self) -> None:
        self.figs: list[tuple[str, str]] = []

    def add(self, fig: Any) -> str:
        import plotly.io as pio

        div_id = f"chart-{len(self.figs) + 1}"
        data = json.loads(pio.to_json(fig, validate=False))
        for trace in data.get("data", []):
            kind = trace.get("type", "scatter")
            if kind not in PLOTLY_TRACE_TYPES:  # the page's plotly.js could not draw it
                raise ValueError(f"chart trace type {kind!r} is not in the plotly.js basic bundle")
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
            "text": plot_text(title),
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
            "title": {"text": plot_text(y_title)},
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


def _add_traces(
    fig: Any,
    meta: list[tuple[str, str, str]],
    series: Mapping[str, Sequence[tuple[Any, ...]]],
    col: int,
    keep: Callable[[Any], bool],
    style: Callable[[str, str, str, list[Any]], dict[str, Any]],
) -> int:
    """Add a trace per series of its points in column ``col`` that ``keep`` accepts: a line,
    with what ``style(key, name, colour, values)`` adds or changes; return how many were drawn."""
    import plotly.graph_objects as go

    drawn = 0
    for key, name, colour in meta:
        pts = [(p[0], p[col]) for p in series[key] if keep(p[col])]
        if not pts:
            continue
        drawn += 1
        values = [v for _, v in pts]
        line = {"x": [x for x, _ in pts], "y": values, "name": plot_text(name), "mode": "lines"}
        fig.add_trace(go.Scatter(**(line | style(key, name, colour, values))))
    return drawn


def _share_style(key: str, name: str, colour: str, values: list[Any]) -> dict[str, Any]:
    return {
        "stackgroup": "share",
        "line": {"color": colour, "width": 1},
        "fillcolor": colour,
        "hovertemplate": "%{y:.1%}",
    }


def _line_style(key: str, name: str, colour: str, values: list[Any]) -> dict[str, Any]:
    return {
        "line": {"color": colour, "width": 3 if key else 2, "dash": "dot" if not key else "solid"},
        "hovertemplate": "%{y:,.0f}",
    }


def _release_style(key: str, name: str, colour: str, values: list[Any]) -> dict[str, Any]:
    """A row of dots on the series' own category line, sized by the month's releases."""
    return {
        "y": [plot_text(name)] * len(values),
        "mode": "markers",
        "marker": {
            "color": colour,
            "size": [min(8 + 4 * int(v), 26) for v in values],
            "line": {"width": 1, "color": "#ffffff"},
        },
        "customdata": [int(v) for v in values],
        "hovertemplate": "%{customdata} release(s)<extra>%{y}</extra>",
        "showlegend": False,
    }


def _share_chart(
    charts: _Charts,
    shares: dict[str, list[tuple[str, Any, Any, Any, Any]]],
    names: dict[str, str],
    ranks: dict[str, int],
    col: int,
    what: str,
) -> str:
    """Each series' share of the skill per quarter (column ``col``), stacked; "" if empty."""
    import plotly.graph_objects as go

    fig = go.Figure()
    meta = _series_meta(names, ranks, list(shares))
    if not _add_traces(fig, meta, shares, col, lambda v: v is not None, _share_style):
        return ""
    layout = _layout(f"Share of the skill's {what} per quarter", y_title="share", percent=True)
    layout["yaxis"]["range"] = [0, 1]
    fig.update_layout(**layout)
    return charts.add(fig)


_Monthly = dict[str, list[tuple[str, Any, Any, Any]]]


def _line_chart(
    charts: _Charts,
    meta: list[tuple[str, str, str]],
    monthly: _Monthly,
    idx: int,
    title: str,
    y_title: str,
    log_y: bool,
) -> str:
    """A monthly line chart of column ``idx`` (0 stars, 1 downloads); "" when nothing to draw."""
    import plotly.graph_objects as go

    fig = go.Figure()

    def keep(v: Any) -> bool:
        return v is not None and (not log_y or v > 0)

    drawn = _add_traces(fig, meta, monthly, 1 + idx, keep, _line_style)
    if not drawn:
        return ""
    layout = _layout(title, y_title=y_title, log_y=log_y)
    if log_y:
        ys = [float(v) for tr in fig.data for v in tr.y]
        layout["yaxis"].update(_log_ticks(ys))
    fig.update_layout(**layout)
    return charts.add(fig)


def _release_chart(charts: _Charts, meta: list[tuple[str, str, str]], monthly: _Monthly) -> str:
    """Stable releases per month as dots (size = count); "" when there are none."""
    import plotly.graph_objects as go

    fig = go.Figure()
    if not _add_traces(fig, meta, monthly, 3, bool, _release_style):
        return ""
    layout = _layout("Stable releases per month (dot size = count)", y_title="")
    layout["yaxis"] = {"automargin": True, "gridcolor": "#eef1f5", "type": "category"}
    layout["hovermode"] = "closest"
    fig.update_layout(**layout)
    return charts.add(fig)


def skill_charts(charts: _Charts, skill: SkillSummary, a: Analysis, names: dict[str, str]) -> str:
    """A skill's charts, and one line naming the panels not drawn for lack of data."""
    monthly = a.charts["monthly"].get(skill.skill, {})
    ranks = a.charts["ranks"].get(skill.skill, {})
    meta = _series_meta(names, ranks, list(monthly))
    parts: list[str] = []
    not_charted: list[str] = []  # panels without data: said in one line, not drawn as boxes
    for idx, title, y_title, log_y, missing in (
        (0, "New GitHub stars per month", "stars", False, "new GitHub stars (no star history)"),
        (1, "PyPI downloads per month (log scale)", "downloads", True, "downloads (no download figures)"),
    ):  # fmt: skip
        parts.append(_line_chart(charts, meta, monthly, idx, title, y_title, log_y))
        if not parts[-1]:
            not_charted.append(missing)
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
    parts.append(_release_chart(charts, meta, monthly))
    if not parts[-1]:
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
