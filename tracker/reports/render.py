"""Write the report files: index.html (offline, plotly.js embedded once), summary.md, trends.json.

The renderers only render: `html_out`, `markdown_out` and `json_out` turn an `Analysis` into
text; this module writes the files. `tracker.reports.write_report` runs the whole sequence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tracker.reports.charts import PLOTLY_TRACE_TYPES, _Charts
from tracker.reports.html_out import render_html
from tracker.reports.json_out import trends_json
from tracker.reports.markdown_out import render_markdown
from tracker.reports.model import Analysis
from tracker.reports.text import md_escape, script_json

__all__ = [
    "PLOTLY_TRACE_TYPES",
    "ReportResult",
    "_Charts",
    "md_escape",
    "render",
    "script_json",
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
