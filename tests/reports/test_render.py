from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from tests.reports.conftest import AS_OF, EVIL_DESC
from tracker.reports import write_report
from tracker.reports.render import md_escape, script_json
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
    assert "<img" not in md and "<script" not in md
    assert '&lt;img src=x onerror=alert("name")&gt;' in md
    data = json.loads((out / "trends.json").read_text())
    evil = next(t for t in data["tools"] if t["tool_id"] == "evil")
    assert evil["info"]["description"] == EVIL_DESC  # JSON keeps the text; it is data there


def test_script_json_and_md_escape() -> None:
    s = script_json({"a": "</script><script>x</script>&"})
    assert "<" not in s and ">" not in s and "&" not in s
    assert json.loads(s) == {"a": "</script><script>x</script>&"}
    m = md_escape("a | b <c>\nd")
    assert "|" not in m.replace("\\|", "") and "<" not in m and "\n" not in m


def test_plotly_is_embedded_once_and_no_cdn(landscape_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _write(landscape_db, out)
    page = (out / "index.html").read_text()
    assert len(re.findall(r"plotly\.js v\d", page)) == 1
    tags = _Tags()
    tags.feed(page)
    assert "src" not in tags.attrs and "link" not in tags.tags  # nothing loaded from elsewhere
    assert page.count('data-chart="1"') >= 8
    assert len(page) < 8_000_000


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
