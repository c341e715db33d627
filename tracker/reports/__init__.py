"""Trend analytics and report rendering (HTML, Markdown, JSON)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from tracker.reports.render import ReportResult, write_report

if TYPE_CHECKING:
    from tracker.config import Settings

__all__ = ["ReportResult", "run_report", "write_report"]


def run_report(
    settings: Settings, out_dir: Path, as_of: date, lock_wait: float = 0.0
) -> ReportResult:
    """Write the report of ``settings.db_target`` and store its labels.

    A DuckDB file: under the writer lock `tracker collect` takes, so the labels are written to
    `tool_labels` and `skill_labels` in one transaction, and a running collect makes the report
    wait up to ``lock_wait`` seconds (then LockHeldError, one line naming the holder). A DuckLake
    has no lock: the labels are one transaction that is re-run if it conflicts with a collect's.
    """
    from tracker.warehouse.db import write_session

    with write_session(settings.db_target, wait_seconds=lock_wait) as con:
        return write_report(con, out_dir, as_of)
