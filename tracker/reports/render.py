"""Write the report files. (Foundation version: summary.md with release cadence per skill.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

__all__ = ["ReportResult", "write_report"]


@dataclass(frozen=True, slots=True)
class ReportResult:
    """Paths written by a report."""

    files: tuple[Path, ...]
    missing: tuple[str, ...]


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def write_report(con: duckdb.DuckDBPyConnection, out_dir: Path, as_of: date) -> ReportResult:
    """Write ``out_dir/summary.md``: yearly release counts per skill and tool, as of ``as_of``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = con.execute(
        """
        SELECT t.skill, s.title, t.name, year(r.released_at) AS yr, count(DISTINCT r.version) AS n
        FROM releases r JOIN tools t USING (tool_id) LEFT JOIN skills s USING (skill)
        WHERE r.released_at IS NOT NULL AND r.released_at < ? AND NOT r.is_prerelease
          AND year(r.released_at) >= year(?) - 4
        GROUP BY ALL ORDER BY min(s.position), t.skill, t.name, yr
        """,
        [as_of, as_of],
    ).fetchall()
    counts = {
        name: int(n)
        for name, n in con.execute(
            "SELECT 'releases', count(*) FROM releases UNION ALL SELECT 'downloads_daily', count(*)"
            " FROM downloads_daily UNION ALL SELECT 'star_history', count(*) FROM star_history"
        ).fetchall()
    }
    missing = tuple(k for k, v in counts.items() if v == 0)
    years = list(range(as_of.year - 4, as_of.year + 1))
    lines = [f"# tracker summary (as of {as_of.isoformat()})", ""]
    if missing:
        lines += [
            "**Missing data:** "
            + ", ".join(f"`{m}` is empty" for m in missing)
            + ". Run `tracker collect` for the sources that fill them.",
            "",
        ]
    by_skill: dict[tuple[str, str], dict[str, dict[int, int]]] = {}
    for skill, title, name, yr, n in rows:
        by_skill.setdefault((skill, title or skill), {}).setdefault(name, {})[int(yr)] = int(n)
    lines += ["## Release cadence per skill (stable releases per year)", ""]
    if not by_skill:
        lines += ["No releases stored yet.", ""]
    for (_, title), tools in by_skill.items():
        lines += [
            f"### {_md_escape(title)}",
            "",
            "| tool | " + " | ".join(map(str, years)) + " |",
            "|---|" + "---:|" * len(years),
        ]
        for name, per_year in tools.items():
            lines.append(
                f"| {_md_escape(name)} | "
                + " | ".join(str(per_year.get(y, 0)) for y in years)
                + " |"
            )
        lines.append("")
    path = out_dir / "summary.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return ReportResult(files=(path,), missing=missing)
