"""`tracker status`: every source's state as of one reading of the clock, and its freshness
against the schedule (`schedule_config.freshness`, the rule the report applies too).

`read_status_model` reads the warehouse (the SQL is in warehouse/status.py); `build_status` is
the pure part: freshness, alerts and the exit code of ``--check``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tracker.clock import Clock, utc_now
from tracker.schedule_config import ScheduleConfig, SourceSchedule, freshness
from tracker.warehouse.status import SourceStatus

if TYPE_CHECKING:
    from tracker.catalog import Tool
    from tracker.config import Settings

__all__ = ["SourceLine", "StatusModel", "build_status", "freshness_row", "read_status_model"]

_SUMMARIES = {
    "fresh": "fresh ({age}h old, stale after {max}h)",
    "stale": "STALE ({age}h old, stale after {max}h)",
    "never": "STALE (never succeeded)",
    "disabled": "disabled in the schedule",
    "unavailable": "n/a (no collector or no tool for this source)",
}


@dataclass(frozen=True, slots=True)
class SourceLine:
    """One source: what the warehouse holds and its freshness (`freshness_row`)."""

    status: SourceStatus
    freshness: dict[str, Any]

    @property
    def source(self) -> str:
        return self.status.source

    def as_json(self) -> dict[str, Any]:
        st, run = self.status, self.status.last_run
        return {
            "source": st.source,
            "last_run": None if run is None else asdict(run),
            "last_success_at": st.last_success_at,
            "freshness": self.freshness,
            "rows": st.rows,
            "stale_tools": list(st.stale_tools),
            "recent_errors": [asdict(e) for e in st.recent_errors],
        }


@dataclass(frozen=True, slots=True)
class StatusModel:
    """`tracker status` as of ``checked_at``: one line per source, in SOURCES order."""

    db: str
    config: str | None  # the schedule file; None: built-in defaults
    checked_at: datetime
    check: bool
    sources: tuple[SourceLine, ...]

    @property
    def stale(self) -> list[SourceLine]:
        """Sources that alert: enabled and stale, or never succeeded."""
        return [line for line in self.sources if line.freshness["alert"]]

    @property
    def exit_code(self) -> int:
        return 1 if self.check and self.stale else 0

    def as_json(self) -> dict[str, Any]:
        return {
            "db": self.db,
            "config": self.config,
            "checked_at": self.checked_at,
            "stale": [line.source for line in self.stale],
            "exit_code": self.exit_code,
            "sources": [line.as_json() for line in self.sources],
        }


def freshness_row(
    schedule: SourceSchedule, st: SourceStatus, now: datetime, *, available: bool
) -> dict[str, Any]:
    """Freshness state, ages in hours, schedule and alert of one source as of ``now``.

    ``available``: this tracker has a collector for the source and a tool with data there.
    """
    f = freshness(schedule, st.last_success_at, now)
    state = "unavailable" if schedule.enabled and not available else f.state
    age_h = None if f.age is None else round(f.age.total_seconds() / 3600, 2)
    max_h = round(f.max_age.total_seconds() / 3600, 2)
    return {
        "state": state,
        "alert": state in ("stale", "never"),
        "enabled": schedule.enabled,
        "cron": schedule.cron,
        "age_hours": age_h,
        "period_hours": round(f.period.total_seconds() / 3600, 2),
        "max_age_hours": max_h,
        "summary": _SUMMARIES[state].format(age=age_h, max=max_h),
    }


def build_status(
    states: Sequence[SourceStatus],
    schedule: ScheduleConfig,
    trackable: Sequence[Tool],
    now: datetime,
    *,
    db: str,
    check: bool = False,
) -> StatusModel:
    """The status model of ``states`` as of ``now`` (UTC) against ``schedule``."""
    from tracker.collectors.base import get_collector

    lines = []
    for st in states:
        collector = get_collector(st.source)
        available = collector is not None and any(collector.applicable(t) for t in trackable)
        row = freshness_row(schedule.source(st.source), st, now, available=available)
        lines.append(SourceLine(st, row))
    return StatusModel(db, schedule.file, now, check, tuple(lines))


def read_status_model(
    settings: Settings, schedule: ScheduleConfig, *, check: bool = False, clock: Clock = utc_now
) -> StatusModel:
    """Read every source's status from ``settings.db_target`` as of one reading of ``clock``."""
    from tracker.collectors.base import SOURCES
    from tracker.runner import load_configured_catalog
    from tracker.warehouse.db import open_target
    from tracker.warehouse.status import read_status

    now = clock()
    trackable = [t for t in load_configured_catalog(settings).tools if t.trackable]
    con = open_target(settings.db_target, read_only=True)
    try:
        states = read_status(con, SOURCES, now)
    finally:
        con.close()
    return build_status(states, schedule, trackable, now, db=settings.db_label, check=check)
