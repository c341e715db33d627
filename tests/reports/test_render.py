from __future__ import annotations

import hashlib
import json
import re
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from tests.reports.conftest import AS_OF, EVIL_DESC
from tests.reports.synth import Synth
from tracker.reports import write_report
from tracker.reports.render import PLOTLY_TRACE_TYPES, _Charts, md_escape, script_json
from tracker.warehouse import open_db


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(k for k, _ in attrs)


def _write(db: Path, out: Path) -> None:
    con = open_db(db)  # write mode: the report stores its labels
    try:
        write_report(con, out, AS_OF)
    finally:
        con.close()


def test_upstream_strings_stay_inert_in_every_output(landscape_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _write(landscape_db, out)
    page = (out / "index.html").read_text()
    tags = _Tags()
    tags.feed(page)
    # the only <script> elements are ours (plotly, then the chart bootstrap); no injected element
    assert tags.tags.count("script") == 2
    assert "img" not in tags.tags
    assert not [a for a in tags.attrs if a.startswith("on")]
    assert "&lt;/script&gt;&lt;script&gt;alert(&quot;desc&quot;)" in page
    assert "&lt;img src=x onerror=alert(&quot;name&quot;)&gt;" in page
    assert "<img" not in page.split("<script>")[-1]  # chart JSON: no raw tag either
    md = (out / "summary.md").read_text()
    # Markdown escapes, not HTML entities: a CommonMark renderer makes no element of them
    assert '\\<img src=x onerror=alert("name")\\>' in md and "&lt;" not in md
    rendered = _Tags()
    rendered.feed(MarkdownIt("commonmark").enable("table").render(md))
    assert not {"img", "script"} & set(rendered.tags)
    assert not [a for a in rendered.attrs if a.startswith("on")]
    data = json.loads((out / "trends.json").read_text())
    evil = next(t for t in data["tools"] if t["tool_id"] == "evil")
    assert evil["info"]["description"] == EVIL_DESC  # JSON keeps the text; it is data there


def test_script_json_and_md_escape() -> None:
    s = script_json({"a": "</script><script>x</script>&"})
    assert "<" not in s and ">" not in s and "&" not in s
    assert json.loads(s) == {"a": "</script><script>x</script>&"}
    m = md_escape("a | b <c>\nd")
    assert m == "a \\| b \\<c\\> d"
    assert md_escape("Weights & Biases") == "Weights & Biases"  # not Weights &amp; Biases
    assert md_escape("snake_case *b* [x](y) `c` &lt; _e_") == (
        "snake_case \\*b\\* \\[x\\](y) \\`c\\` \\&lt; \\_e\\_"
    )
    # what a renderer shows is the text itself, in a table cell too
    for text in ("Weights & Biases", "a | b <c>", "*not bold* [no link](x) &amp; _e_ `c`"):
        html = (
            MarkdownIt("commonmark")
            .enable("table")
            .render(f"| x |\n|---|\n| {md_escape(text)} |\n")
        )
        assert f"<td>{escape(text, quote=False)}</td>" in html, (text, html)


def test_plotly_is_embedded_once_and_no_cdn(landscape_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _write(landscape_db, out)
    page = (out / "index.html").read_text()
    assert len(re.findall(r"plotly\.js \(basic - minified\) v\d", page)) == 1
    tags = _Tags()
    tags.feed(page)
    assert "src" not in tags.attrs and "link" not in tags.tags  # nothing loaded from elsewhere
    assert page.count('data-chart="1"') >= 8
    # the vendored basic bundle, not the plotly package's full one (4.7 MB): the page stays small
    assert len(page) < 3_000_000


VENDORED = Path(__file__).resolve().parents[2] / "tracker/reports/templates/vendor"


def test_vendored_plotly_is_the_recorded_file() -> None:
    js = (VENDORED / "plotly-basic.min.js").read_bytes()
    recorded = (VENDORED / "README.md").read_text()
    assert hashlib.sha256(js).hexdigest() in recorded
    version = re.search(rb"plotly\.js \(basic - minified\) v([\d.]+)", js)
    assert version and f"version {version.group(1).decode()}" in recorded
    assert (VENDORED / "LICENSE.plotly.js").read_text().startswith("MIT License")


def test_every_chart_uses_a_trace_type_of_the_basic_bundle(
    landscape_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    _write(landscape_db, out)
    page = (out / "index.html").read_text()
    figs = [
        json.loads(m.group(1))
        for m in re.finditer(r'^figs\["chart-\d+"\]=(.*);$', page.rsplit("<script>", 1)[1], re.M)
    ]
    kinds = {t.get("type", "scatter") for f in figs for t in f["data"]}
    assert len(figs) >= 8 and kinds and kinds <= PLOTLY_TRACE_TYPES


def test_a_chart_the_basic_bundle_cannot_draw_is_refused() -> None:
    import plotly.graph_objects as go

    with pytest.raises(ValueError, match=r"'heatmap' is not in the plotly\.js basic bundle"):
        _Charts().add(go.Figure(go.Heatmap(z=[[1, 2], [3, 4]])))


def test_json_carries_every_label_input_and_its_sql(landscape_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _write(landscape_db, out)
    data = json.loads((out / "trends.json").read_text())
    assert data["as_of"] == AS_OF.isoformat()
    assert set(data["sql"]["queries"]) >= {"metric_stats", "skill_shares", "baseline"}
    for t in data["tools"]:
        assert t["label"] in ("rising", "declining", "stable", "dormant", "insufficient data")
        for m in t["metrics"].values():
            assert m["inputs"]["sql"] in data["sql"]["queries"]
            for key in ("r", "rm", "rr", "baseline_r", "earlier_per_year", "window_end"):
                assert key in m["inputs"]
    doubler = next(t for t in data["tools"] if t["tool_id"] == "doubler")
    assert doubler["label"] == "rising" and doubler["driver"] == "downloads"
    assert data["baselines"]["downloads"]["used"] is True
    assert any(s["problems"] for s in data["sources"])  # github rate-limited, pypistats stale
    assert data["not_trackable"][0]["tool_id"] == "fblearner"


def test_summary_md_reads_as_prose_and_tables(landscape_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _write(landscape_db, out)
    md = (out / "summary.md").read_text()
    assert "## Rising tools" in md and "| Doubler |" in md
    assert "Losing share: Oozie" in md
    assert "rate-limited" in md and "stale" in md
    assert "**FBLearner**" in md


def test_a_source_down_for_every_tool_is_said_once_and_counts_are_tools(tmp_path: Path) -> None:
    """github failed for every tool, pypi failed for one: the github failure is one line under
    Missing data (not a flag in each row), pypi's stays on its tool; empty chart panels are one
    line; flags are counted in tools; the sources table has time, status and last success."""
    from datetime import datetime, timedelta

    db = tmp_path / "down.duckdb"
    s = Synth(db, AS_OF)
    names = {"aa": "Weights & Biases", "bb": "Bee_tool", "cc": "Cee | Co"}
    for tid, name in names.items():
        s.tool(tid, skill="mlops", name=name, github=f"o/{tid}", pypi=[tid])
        s.monthly_releases(tid, 30)
    s.run(
        "pypi",
        status="partial",
        error="pypi: HTTP 404 from https://pypi.test/pypi/cc/json",
        tool_id="cc",
    )
    at = datetime.combine(AS_OF, datetime.min.time()) - timedelta(hours=2, microseconds=123456)
    run = s.con.execute(
        "INSERT INTO runs (started_at, finished_at, source, status) VALUES (?, ?, 'github', 'failed')"
        " RETURNING run_id",
        [at, at],
    ).fetchone()
    assert run is not None
    for tid in names:
        s.con.execute(
            "INSERT INTO run_errors VALUES (?, 'github', ?, ?, ?)",
            [
                run[0],
                tid,
                f"not collected: github unreachable (cannot connect: connection refused): https://api.test/repos/o/{tid}",
                at,
            ],
        )
    s.close()
    out = tmp_path / "out"
    _write(db, out)
    page = (out / "index.html").read_text()
    md = (out / "summary.md").read_text()
    for text in (page, md):
        assert text.count("last github collection failed") == 0
        assert (
            text.count("the last <code>github</code> collection failed for all 3 tools")
            + text.count("the last `github` collection failed for all 3 tools")
            == 1
        )
        assert text.count("last pypi collection failed") == 1  # a useful per-tool flag stays
        assert not re.search(r"\d\d:\d\d:\d\d\.\d{6}", text.split("<script")[0])  # no microseconds
        assert "https://api.test/…" in text  # the failure, shortened to its host
    # one line for the panels that would be empty, no empty boxes
    assert '<div class="nochart"' not in page
    assert page.count('<p class="nochart') == 1
    assert "new GitHub stars (no star history), downloads (no download figures)" in page
    # sources: last run time, status, last success, as minutes in UTC
    when = at.strftime("%Y-%m-%d %H:%M UTC")
    assert f"<td>github</td><td>{when}</td><td>failed</td><td>never</td>" in page
    assert f"| github | {when} | failed | never |" in md
    # counts are tools, not flags: 3 tools, each with a stale flag (github) and one with two
    assert "3 of 3 tracked tools carry data-quality flags" in page and "stale: 3" in page
    assert "| Weights & Biases |" in md and "| Cee \\| Co |" in md and "Bee_tool" in md
