from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.reports.synth import Synth
from tracker.cli import app


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
