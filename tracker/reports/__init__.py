"""Trend reports: load (typed, SQL) -> analyse (pure) -> render (HTML, Markdown, JSON) -> labels."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from tracker.reports.render import ReportResult, write_report

if TYPE_CHECKING:
    from tracker.config import Settings
    from tracker.schedule_config import ScheduleConfig

__all__ = ["ReportResult", "run_report", "write_report"]


def run_report(
    settings: Settings,
    out_dir: Path,
    as_of: date,
    lock_wait: float = 0.0,
    schedule: ScheduleConfig | None = None,
) -> ReportResult:
    """Write the report of ``settings.db_target`` and store its labels.

    The steps in order: load (typed rows, the only SQL), analyse (pure), render (the files),
    save the labels. A source is stale against ``schedule`` (default: ``./tracker.toml`` when
    present, else the built-in schedule, as `tracker status` without ``--config``).

    A DuckDB file: under the writer lock `tracker collect` takes, so the labels are written to
    `tool_labels` and `skill_labels` in one transaction, and a running collect makes the report
    wait up to ``lock_wait`` seconds (then LockHeldError, one line naming the holder). A DuckLake
    has no lock: the labels are one transaction that is re-run if it conflicts with a collect's.
    """
    from tracker.clock import naive_utc, utc_now
    from tracker.reports.analytics import analyse, label_rows
    from tracker.reports.load import load
    from tracker.reports.render import render
    from tracker.schedule_config import load_schedule_config
    from tracker.warehouse.db import write_session
    from tracker.warehouse.labels import save_labels

    schedule = schedule or load_schedule_config()
    with write_session(settings.db_target, wait_seconds=lock_wait) as con:
        analysis = analyse(load(con, as_of), as_of, schedule)
        result = render(analysis, out_dir)
        tool_rows, skill_rows = label_rows(analysis)
        save_labels(con, as_of, tool_rows, skill_rows, naive_utc(utc_now()))
        return result
