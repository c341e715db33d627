"""Trend reports: load (typed, SQL) -> analyse (pure) -> render (HTML, Markdown, JSON) -> labels."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from tracker.clock import Clock, naive_utc, utc_now
from tracker.reports.render import ReportResult

if TYPE_CHECKING:
    import duckdb

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
    from tracker.schedule_config import load_schedule_config
    from tracker.warehouse.db import write_session

    schedule = schedule or load_schedule_config()
    with write_session(settings.db_target, wait_seconds=lock_wait) as con:
        return write_report(con, out_dir, as_of, schedule=schedule)


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
    from tracker.reports.render import render

    analysis = analyse(load(con, as_of), as_of, schedule)
    result = render(analysis, out_dir)
    if save_labels:
        from tracker.warehouse.labels import save_labels as save

        tool_rows, skill_rows = label_rows(analysis)
        save(con, as_of, tool_rows, skill_rows, naive_utc(clock()))
    return result
