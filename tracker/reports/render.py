"""Write the report files: index.html (offline, plotly.js embedded once), summary.md, trends.json.

The renderers only render: `html_out`, `markdown_out` and `json_out` turn an `Analysis` into
text; this module writes the files. `write_report` runs the whole sequence for tests and scripts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from tracker.clock import Clock, naive_utc, utc_now
from tracker.reports.charts import PLOTLY_TRACE_TYPES, _Charts
from tracker.reports.html_out import render_html
from tracker.reports.json_out import trends_json
from tracker.reports.markdown_out import render_markdown
from tracker.reports.model import Analysis
from tracker.reports.text import md_escape, script_json

if TYPE_CHECKING:
    import duckdb

    from tracker.schedule_config import ScheduleConfig

__all__ = [
    "PLOTLY_TRACE_TYPES",
    "ReportResult",
    "_Charts",
    "md_escape",
    "render",
    "script_json",
    "write_report",
]


@dataclass(frozen=True, slots=True)
class ReportResult:
    """Paths written by a report and what data was missing."""

    files: tuple[Path, ...]
    missing: tuple[str, ...]


def render(analysis: Analysis, out_dir: Path) -> ReportResult:
    """Write ``out_dir``/index.html, summary.md and trends.json of ``analysis``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = (out_dir / "index.html", out_dir / "summary.md", out_dir / "trends.json")
    files[0].write_text(render_html(analysis), encoding="utf-8")
    files[1].write_text(render_markdown(analysis), encoding="utf-8")
    files[2].write_text(
        json.dumps(trends_json(analysis), indent=1, ensure_ascii=False, default=str),
        encoding="utf-8",
    )
    return ReportResult(files=files, missing=tuple(analysis.missing))


def write_report(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    as_of: date,
    *,
    clock: Clock = utc_now,
    save_labels: bool = True,
    schedule: ScheduleConfig | None = None,
) -> ReportResult:
    """Load, analyse and render the report of ``as_of`` (UTC date) into ``out_dir``; sources
    are stale against ``schedule`` (default: the built-in one).

    With ``save_labels`` (the default) the labels also go to `tool_labels` / `skill_labels`:
    ``con`` must then be a write connection held under the writer lock.
    """
    from tracker.reports.analytics import analyse, label_rows
    from tracker.reports.load import load

    analysis = analyse(load(con, as_of), as_of, schedule)
    result = render(analysis, out_dir)
    if save_labels:
        from tracker.warehouse.labels import save_labels as save

        tool_rows, skill_rows = label_rows(analysis)
        save(con, as_of, tool_rows, skill_rows, naive_utc(clock()))
    return result
