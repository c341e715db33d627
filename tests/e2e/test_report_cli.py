"""`tracker report` through the CLI on synthetic warehouses: files, missing data, labels, lock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.reports.conftest import build_landscape
from tests.reports.synth import Synth
from tracker.cli import app


@pytest.fixture
def landscape_db(tmp_path: Path) -> Path:
    db = tmp_path / "landscape.duckdb"
    build_landscape(db)
    return db


def test_report_on_the_landscape(landscape_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    r = CliRunner().invoke(
        app, ["report", "--db", str(landscape_db), "--out", str(out), "--as-of", "2025-06-15"]
    )
    assert r.exit_code == 0, r.output
    for name in ("index.html", "summary.md", "trends.json"):
        assert (out / name).is_file()
        assert f"wrote {out / name}" in r.output


def test_report_on_an_empty_db_says_what_is_missing(tmp_path: Path) -> None:
    from tracker.warehouse import open_db

    out = tmp_path / "rep"
    open_db(tmp_path / "new.duckdb").close()  # created (as by a collect), nothing stored
    r = CliRunner().invoke(
        app, ["report", "--db", str(tmp_path / "new.duckdb"), "--out", str(out), "--json"]
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert len(doc["files"]) == 3
    assert any("star history" in m for m in doc["missing"])
    assert "Missing data" in (out / "summary.md").read_text()
    assert "Missing data" in (out / "index.html").read_text()


def test_partial_db_only_pypi_releases(tmp_path: Path) -> None:
    from datetime import date

    db = tmp_path / "p.duckdb"
    s = Synth(db, date(2025, 6, 15))
    s.tool("only", pypi=["only"])
    s.monthly_releases("only", 30)
    s.close()
    out = tmp_path / "rep"
    r = CliRunner().invoke(
        app, ["report", "--db", str(db), "--out", str(out), "--as-of", "2025-06-15"]
    )
    assert r.exit_code == 0, r.output
    assert "note: no download figures" in r.output
    md = (out / "summary.md").read_text()
    assert "no download figures" in md and "no star history" in md


def test_bad_as_of_is_a_usage_error(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        app, ["report", "--db", str(tmp_path / "x.duckdb"), "--as-of", "2025-13-01"]
    )
    assert r.exit_code == 2
    assert "--as-of" in r.output


def test_report_stores_its_labels_queryable_in_sql(landscape_db: Path, tmp_path: Path) -> None:
    import duckdb

    out = tmp_path / "rep"
    args = ["report", "--db", str(landscape_db), "--out", str(out), "--quiet"]
    for as_of in ("2025-03-10", "2025-06-15", "2025-06-15"):  # the repeat replaces, not adds
        r = CliRunner().invoke(app, [*args, "--as-of", as_of])
        assert r.exit_code == 0, r.output
    con = duckdb.connect(str(landscape_db), read_only=True)
    try:
        dates = con.execute("SELECT DISTINCT as_of FROM tool_labels ORDER BY 1").fetchall()
        assert [str(d[0]) for d in dates] == ["2025-03-10", "2025-06-15"]
        dup = con.execute(
            "SELECT count(*) FROM (SELECT as_of, tool_id, metric FROM tool_labels"
            " GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()
        assert dup == (0,)
        # the README's example: what is declining in orchestration
        declining = con.execute(
            "SELECT name, driver, round(r, 2), round(rm, 2), round(rr, 2)"
            " FROM latest_tool_labels"
            " WHERE skill = 'orchestration' AND metric = 'headline' AND label = 'declining'"
        ).fetchall()
        assert [d[0] for d in declining] == ["Oozie"]
        assert declining[0][2] < 1 and declining[0][4] < 1
        trends = json.loads((out / "trends.json").read_text())
        oozie = next(t for t in trends["tools"] if t["tool_id"] == "oozie")
        stored = dict(
            con.execute(
                "SELECT metric, label FROM latest_tool_labels WHERE tool_id = 'oozie'"
            ).fetchall()
        )
        assert stored["headline"] == oozie["label"]
        assert all(stored[m] == v["label"] for m, v in oozie["metrics"].items())
        skills = con.execute(
            "SELECT skill, label, tools_judged FROM latest_skill_labels WHERE metric = 'headline'"
        ).fetchall()
        assert {s[0] for s in skills} >= {"orchestration", "mlops"}
        assert all(s[2] >= 1 for s in skills if s[1] != "insufficient data")
    finally:
        con.close()


def test_report_waits_for_the_writer_lock_then_names_the_holder(
    landscape_db: Path, tmp_path: Path
) -> None:
    from tracker.warehouse.db import WriterLock

    with WriterLock(landscape_db):
        r = CliRunner().invoke(
            app, ["report", "--db", str(landscape_db), "--out", str(tmp_path / "o")]
        )
    assert r.exit_code == 2
    assert len(r.output.strip().splitlines()) == 1
    assert "another tracker process" in r.output


def test_report_shows_demand_beside_adoption(tmp_path: Path) -> None:
    from datetime import date

    from tests.reports.synth import add_demand, noisy

    db = tmp_path / "d.duckdb"
    s = Synth(db, date(2025, 6, 15))
    for i in range(6):
        s.tool(f"t{i}", name=f"Tool {i}")
        s.downloads(f"t{i}", noisy(50_000, 30, i))
        add_demand(s, f"t{i}", "hn", noisy(30, 30, 50 + i))
        add_demand(s, f"t{i}", "stackoverflow", noisy(200, 30, 60 + i))
    s.close()
    out = tmp_path / "rep"
    r = CliRunner().invoke(
        app, ["report", "--db", str(db), "--out", str(out), "--as-of", "2025-06-15"]
    )
    assert r.exit_code == 0, r.output
    page = (out / "index.html").read_text()
    assert "Share of the skill's job posts (HN Who is hiring) per quarter" in page
    assert "Share of the skill's Stack Overflow questions per quarter" in page
    assert "<th>job posts</th>" in page
    md = (out / "summary.md").read_text()
    assert "| job posts | SO questions |" in md
    trends = json.loads((out / "trends.json").read_text())
    t0 = next(t for t in trends["tools"] if t["tool_id"] == "t0")
    assert {"job_posts", "questions"} <= set(t0["metrics"])
