"""The README and docs/ stand on their own in a clone and match what the code does."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _user_docs() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def test_docs_point_at_nothing_outside_the_clone() -> None:
    for doc in _user_docs():
        text = doc.read_text(encoding="utf-8")
        assert "../shared" not in text and "/work/" not in text, doc
        assert not re.search(r"\bDESIGN\b", text), doc
    code = [*ROOT.glob("tracker/**/*.py"), *ROOT.glob("tracker/**/*.sql")]
    for path in code:
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text and not re.search(r"\bDESIGN\b", text), path


def test_readme_links_resolve_in_the_repo() -> None:
    text = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert local, "no relative link found"
    for link in local:
        assert (ROOT / link).exists(), link


def test_readme_schema_section_lists_every_table_and_column(tmp_path: Path) -> None:
    from tracker.warehouse import open_db

    text = README.read_text(encoding="utf-8")
    section = text.split("## The warehouse", 1)[1].split("\n## ", 1)[0]
    rows = {
        m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)` \|.*$", section, re.MULTILINE)
    }
    con = open_db(tmp_path / "t.duckdb")
    try:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
            ).fetchall()
        ]
        for table in tables:
            assert table in rows, f"README's schema table lacks {table}"
            columns = con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
            ).fetchall()
            for (column,) in columns:
                assert f"`{column}`" in rows[table], f"{table}.{column} is not in the README"
    finally:
        con.close()


def test_readme_says_when_a_source_is_skipped_as_the_code_does() -> None:
    from tracker.collectors.base import RetryPolicy

    text = " ".join(README.read_text(encoding="utf-8").split())
    assert RetryPolicy().breaker_threshold == 1
    assert "every source stops after its first unreachable request" in text
    assert "three unreachable" not in text
