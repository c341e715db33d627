"""index.html: one offline page (plotly.js embedded once) with tables, charts and flags."""

from __future__ import annotations

import re
from importlib import resources

from tracker import __version__
from tracker.reports import thresholds as th
from tracker.reports.charts import PALETTE, _Charts, skill_charts
from tracker.reports.findings import (
    down_notes,
    down_sources,
    flag_counts,
    movers,
    row_flags,
    skill_sentence,
    source_state,
)
from tracker.reports.model import Analysis, MetricTrend, ToolTrend
from tracker.reports.text import badge, code_spans, esc, fmt_pct, fmt_when

__all__ = ["render_html"]


def _metric_cell(mt: MetricTrend | None) -> str:
    if mt is None:
        return '<span class="muted small">no data</span>'
    i = mt.inputs
    extra = ""
    if mt.label != "insufficient data":
        extra = (
            f'<div class="small muted" title="plain / typical period / vs the median tool">'
            f"{esc(fmt_pct(i.get('r')))} · {esc(fmt_pct(i.get('rm')))} · {esc(fmt_pct(i.get('rr')))}</div>"
        )
    if mt.confidence == "low" and mt.label in ("rising", "declining"):
        extra += '<div class="small muted">low confidence</div>'
    return badge(mt.label) + extra


def _tool_rows(
    tools: list[ToolTrend], colours: dict[str, str], down: dict[str, list[ToolTrend]]
) -> str:
    rows = []
    for t in tools:
        colour = colours.get(t.tool_id)
        swatch = f'<span class="swatch" style="background:{colour}"></span>' if colour else ""
        desc = t.info.get("description")
        desc_html = f'<div class="small muted">{esc(desc)}</div>' if desc else ""
        flags = "".join(f"<li>{esc(f['text'])}</li>" for f in row_flags(t, down))
        flags_html = f'<ul class="flags">{flags}</ul>' if flags else ""
        rows.append(
            "<tr>"
            f"<td>{swatch}<b>{esc(t.name)}</b>{desc_html}</td>"
            f"<td>{badge(t.label)}<div class='small muted'>{esc(t.driver or '')}</div></td>"
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


def _leaderboard(tools: list[ToolTrend], label: str) -> str:
    picked = [t for t in tools if t.label == label and t.driver]

    def change(t: ToolTrend) -> float:
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
            f"<td class='num'>{esc(fmt_pct(i['r']))}</td>"
            f"<td class='num'>{esc(fmt_pct(i['rm']))}</td>"
            f"<td class='num'>{esc(fmt_pct(i['rr']))}</td>"
            f"<td class='small'>{esc(t.metrics[t.driver].reason)}</td>"
            "</tr>"
        )
    return (
        "<table><thead><tr><th>tool</th><th>driven by</th>"
        "<th class='num'>year on year</th><th class='num'>typical period</th>"
        "<th class='num'>vs the median tool</th>"
        "<th>evidence</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _skills_table(a: Analysis) -> str:
    rows = []
    for s in a.skills:
        g = s.growth
        win = movers(s, s.winners, paren=True)
        lose = movers(s, s.losers, paren=True)
        rows.append(
            "<tr>"
            f"<td><a href='#skill-{esc(s.skill)}'><b>{esc(s.title)}</b></a>"
            f"<div>{badge(s.label)}</div><div class='small muted'>{esc(s.reason)}</div></td>"
            f"<td class='num'>{esc(fmt_pct(g['downloads_growth']))}<div class='small muted'>"
            f"{esc(fmt_pct(g['downloads_growth_relative']))} rel.</div></td>"
            f"<td class='num'>{esc(fmt_pct(g['stars_growth']))}<div class='small muted'>"
            f"{esc(fmt_pct(g['stars_growth_relative']))} rel.</div></td>"
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


def _data_quality(a: Analysis, down: dict[str, list[ToolTrend]]) -> str:
    src_rows = "".join(
        f"<tr><td>{esc(s['source'])}</td><td>{esc(fmt_when(s['last_run_at']))}</td>"
        f"<td>{esc(s['last_status'])}</td><td>{esc(fmt_when(s['last_success_at']))}</td>"
        f"<td class='num'>{s['errors_7d']}</td><td>{esc(source_state(s, down))}</td></tr>"
        for s in a.sources
    )
    src = (
        "<table><thead><tr><th>source</th><th>last run</th><th>status</th><th>last success</th>"
        "<th class='num'>errors, 7 days</th><th>state</th></tr></thead><tbody>"
        + (src_rows or "<tr><td colspan='6' class='muted'>no collection run recorded</td></tr>")
        + "</tbody></table>"
    )
    flagged, tracked, kinds = flag_counts(a)
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


def _top(a: Analysis) -> list[str]:
    """The page's header and its key figures."""
    n_rising = sum(t.label == "rising" for t in a.tools)
    n_declining = sum(t.label == "declining" for t in a.tools)
    n_tracked = sum(t.trackable for t in a.tools)
    return [
        "<header class='top'><h1>Data-engineering and MLOps tool trends</h1>"
        f"<p>As of {esc(a.as_of.isoformat())} · labels compare the last 12 months with the 12 "
        f"before · tracker {esc(__version__)}</p></header><main>",
        "<div class='kpis'>"
        f"<div class='kpi'><b>{n_tracked}</b>tools tracked</div>"
        f"<div class='kpi'><b style='color:var(--rising)'>{n_rising}</b>rising</div>"
        f"<div class='kpi'><b style='color:var(--declining)'>{n_declining}</b>declining</div>"
        f"<div class='kpi'><b>{len(a.not_trackable)}</b>not trackable</div></div>",
    ]


def _missing(a: Analysis, down: dict[str, list[ToolTrend]]) -> list[str]:
    """The "Missing data" section ([] when nothing is missing)."""
    # the notes' error text is escaped first (and its backticks kept out of code spans)
    missing = [code_spans(esc(m)) for m in a.missing] + [
        code_spans(n) for n in down_notes(down, lambda v: esc(v).replace("`", "&#96;"))
    ]
    if not missing:
        return []
    return [
        "<section class='missing' id='missing'><b>Missing data.</b><ul>"
        + "".join(f"<li>{m}</li>" for m in missing)
        + "</ul></section>"
    ]


def _leaderboards(a: Analysis) -> str:
    return (
        "<h2>Leaderboard</h2><section class='card'><h3>Rising</h3>"
        + _leaderboard(a.tools, "rising")
        + "<h3>Declining</h3>"
        + _leaderboard(a.tools, "declining")
        + "<p class='small muted'>Each label needs three readings of the last 12 months vs the "
        "12 before to agree: plain, the typical month (spike-robust) and vs the median tracked "
        "tool. A tool's own level shift is kept and flagged; labels resting on release cadence "
        "alone are low confidence and listed last. trends.json carries every input.</p></section>"
    )


def _skill_sections(a: Analysis, charts: _Charts, down: dict[str, list[ToolTrend]]) -> list[str]:
    """Per skill with tracked tools: its sentence, its charts and its tools' table."""
    names = {t.tool_id: t.name for t in a.tools}
    out = []
    for s in a.skills:
        skill_tools = [t for t in a.tools if t.skill == s.skill and t.trackable]
        if not skill_tools:
            continue
        ranks = a.charts["ranks"].get(s.skill, {})
        colours = {
            tid: PALETTE[(r - 1) % len(PALETTE)] for tid, r in ranks.items() if r <= th.TOP_N
        }
        out.append(
            f"<h2 id='skill-{esc(s.skill)}'>{esc(s.title)}</h2><section class='card'>"
            f"<p>{esc(skill_sentence(s))}</p>"
            + skill_charts(charts, s, a, names)
            + _tool_rows(skill_tools, colours, down)
            + "</section>"
        )
    return out


def _not_trackable(a: Analysis) -> str:
    nt = "".join(
        f"<tr><td><b>{esc(n['name'])}</b></td><td>{esc(n['skill'])}</td><td>{esc(n['reason'])}</td></tr>"
        for n in a.not_trackable
    )
    return (
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


def render_html(a: Analysis) -> str:
    """index.html of ``a``: the page template filled with CSS, plotly.js, body and chart data."""
    charts = _Charts()
    down = down_sources(a)
    body = _top(a) + _missing(a, down)
    body.append("<h2>Skills</h2><section class='card'>" + _skills_table(a) + "</section>")
    body.append(_leaderboards(a))
    body += _skill_sections(a, charts, down)
    body.append(
        "<h2>Data quality</h2><section class='card'>" + _data_quality(a, down) + "</section>"
    )
    body.append(_not_trackable(a))
    template = resources.files("tracker.reports").joinpath("templates/page.html").read_text("utf-8")
    css = resources.files("tracker.reports").joinpath("templates/report.css").read_text("utf-8")
    parts = {
        "TITLE": esc(f"tracker report {a.as_of.isoformat()}"),
        "CSS": css,
        "PLOTLY": _plotly_js(),
        "BODY": "\n".join(body),
        "SCRIPTS": charts.script(),
    }
    return re.sub(r"<!--(TITLE|CSS|PLOTLY|BODY|SCRIPTS)-->", lambda m: parts[m.group(1)], template)


def _plotly_js() -> str:
    """The vendored plotly.js basic bundle (templates/vendor/README.md), embedded once per page.

    The basic bundle (1.2 MB) draws every trace type the report uses; the full bundle in the
    plotly package (4.7 MB) made a 300-tool page take 2.5 s to load in Chromium."""
    js = resources.files("tracker.reports").joinpath("templates/vendor/plotly-basic.min.js")
    return js.read_text("utf-8").replace("</script", "<\\/script")
