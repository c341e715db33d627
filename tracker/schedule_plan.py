"""What `tracker schedule` will run: one collect job per enabled source, the report job, and
which of them run at once on start (catch-up, decided from each source's last success)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tracker.schedule_config import ScheduleConfig, schedule_period

__all__ = ["REPORT_JOB_ID", "PlannedJob", "collect_job_id", "planned_jobs"]

REPORT_JOB_ID = "report"


def collect_job_id(source: str) -> str:
    """Return the job id of ``source``'s collect job."""
    return f"collect:{source}"


@dataclass(frozen=True, slots=True)
class PlannedJob:
    """A job the scheduler will run: id, cron, and whether it runs at once (catch-up)."""

    job_id: str
    cron: str
    misfire_grace: timedelta
    run_now: bool
    reason: str


def planned_jobs(
    config: ScheduleConfig, last_success: dict[str, datetime | None], now: datetime
) -> list[PlannedJob]:
    """Return the jobs for ``config``; with catch_up, a source whose last success is older than
    its schedule period (or that never succeeded) runs at once."""
    jobs = []
    for s in config.sources:
        if not s.enabled:
            continue
        last = last_success.get(s.source)
        run_now, reason = False, "on schedule"
        if config.catch_up:
            period = schedule_period(s.cron, now)
            if last is None:
                run_now, reason = True, "catch-up: never succeeded"
            elif now - last > period:
                run_now, reason = True, f"catch-up: last success {_hours(now - last)} ago"
        jobs.append(PlannedJob(collect_job_id(s.source), s.cron, s.misfire_grace, run_now, reason))
    if config.report.cron:
        grace = max((s.misfire_grace for s in config.sources), default=timedelta(hours=6))
        jobs.append(PlannedJob(REPORT_JOB_ID, config.report.cron, grace, False, "on schedule"))
    return jobs


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f}h"
