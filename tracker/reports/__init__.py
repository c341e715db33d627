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
    """Write the report of ``settings.db_path`` and store its labels, under the writer lock.

    The lock is the one `tracker collect` takes: the labels are written to `tool_labels` and
    `skill_labels` in one transaction, and a running collect makes the report wait up to
    ``lock_wait`` seconds (then LockHeldError, one line naming the holder).
    """
    from tracker.warehouse.db import WriterLock, open_db

    with WriterLock(settings.db_path, wait_seconds=lock_wait):
        con = open_db(settings.db_path)
        try:
            return write_report(con, out_dir, as_of)
        finally:
            con.close()
