"""`tracker schedule`: an APScheduler 3 BlockingScheduler running one collect job per source.

Jobs: ``collect:<source>`` (UTC cron with jitter, coalesce, max_instances 1, misfire grace in
hours) and optionally ``report`` (its own cron). Jobs run one at a time in a one-thread pool and
call the same ``run_collect`` as `tracker collect`; each opens, writes and closes the DuckDB file,
so nothing holds it between jobs. Catch-up on start is decided from the ``runs`` table.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tracker.clock import Clock, utc_now
from tracker.config import Settings
from tracker.errors import LockHeldError, TrackerError
from tracker.schedule_config import ScheduleConfig, cron_trigger
from tracker.schedule_plan import REPORT_JOB_ID, collect_job_id, planned_jobs
from tracker.signals import StopFlag

if TYPE_CHECKING:
    from apscheduler.schedulers.blocking import BlockingScheduler

    from tracker.runner import CollectSummary

__all__ = [
    "JobResult",
    "ScheduleService",
    "last_successes",
    "planned_jobs",
    "write_scheduled_report",
]

log = logging.getLogger(__name__)

_LOCK_POLL_SECONDS = 2.0


class CollectFn(Protocol):
    """The signature of ``tracker.runner.run_collect`` used by the jobs."""

    def __call__(
        self,
        settings: Settings,
        *,
        sources: Sequence[str] = ...,
        lock_wait: float = ...,
        stop_requested: Callable[[], bool] = ...,
    ) -> CollectSummary: ...


ReportFn = Callable[[Settings, Path, date, float], Sequence[Path]]


def write_scheduled_report(
    settings: Settings,
    out_dir: Path,
    as_of: date,
    lock_wait: float,
    schedule: ScheduleConfig | None = None,
) -> Sequence[Path]:
    """Write the report like `tracker report` does; return the files written. ``schedule`` is
    the scheduler's own config: its sources' max ages say which are stale.

    Holds the writer lock meanwhile (a DuckDB file), so a manual `tracker collect` (which opens
    the file read-write) and the report never collide; on a DuckLake the labels are one retried
    transaction instead.
    """
    from tracker.reports import run_report

    result = run_report(settings, out_dir, as_of, lock_wait, schedule)
    return tuple(result.files)


def last_successes(settings: Settings, lock_wait: float) -> dict[str, datetime | None]:
    """Return when each source last succeeded (UTC), read from ``runs`` under the writer lock."""
    from tracker.collectors.base import SOURCES
    from tracker.warehouse.db import write_session
    from tracker.warehouse.status import last_successes as read_last_successes

    with write_session(settings.db_target, wait_seconds=lock_wait) as con:
        found = read_last_successes(con)
    return {s: v.replace(tzinfo=v.tzinfo or UTC) if (v := found.get(s)) else None for s in SOURCES}


@dataclass(slots=True)
class JobResult:
    """What one job did (also logged)."""

    job_id: str
    outcome: str  # ok | partial | failed | interrupted | skipped | lock-held | error | stopped
    run_id: int | None = None
    detail: str | None = None
    report_files: list[str] = field(default_factory=list)


class ScheduleService:
    """Builds the scheduler, runs its jobs, and stops cleanly on SIGINT/SIGTERM."""

    def __init__(
        self,
        settings: Settings,
        config: ScheduleConfig,
        *,
        collect: CollectFn | None = None,
        report: ReportFn | None = None,
        now: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.config = config
        self._collect = collect
        self._report = report or functools.partial(write_scheduled_report, schedule=config)
        self._now = now
        self._monotonic = monotonic
        self._sleep = sleep
        self.stop = StopFlag(on_signal=lambda name: self._stopping(f"{name} received"))
        self._wake = threading.Event()  # set on stop: the watcher thread shuts the scheduler down
        self._state_lock = threading.Lock()
        self._shutdown_requested = False
        self._running = 0
        self._idle = threading.Condition()
        self.scheduler: BlockingScheduler | None = None
        self.results: list[JobResult] = []

    # ---- building ----------------------------------------------------------------------------
    def build(self, last_success: dict[str, datetime | None]) -> BlockingScheduler:
        """Return a BlockingScheduler (not started) holding the configured jobs."""
        from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, EVENT_SCHEDULER_STARTED
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.schedulers.blocking import BlockingScheduler

        scheduler = BlockingScheduler(
            jobstores={"default": MemoryJobStore()},
            # one worker: jobs run one after another and never contend for the writer lock
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        now = self._now()
        for job in planned_jobs(self.config, last_success, now):
            func: Callable[..., Any]
            args: list[Any]
            if job.job_id == REPORT_JOB_ID:
                func, args = self.report_job, []
            else:
                func, args = self.collect_job, [job.job_id.split(":", 1)[1]]
            options: dict[str, Any] = {}
            if job.run_now:
                options["next_run_time"] = now
            scheduler.add_job(
                func,
                trigger=cron_trigger(job.cron, jitter_seconds=self.config.jitter_seconds),
                args=args,
                id=job.job_id,
                name=job.job_id,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=int(job.misfire_grace.total_seconds()),
                replace_existing=True,
                **options,
            )
            log.info(
                "job planned",
                extra={"job_id": job.job_id, "cron": job.cron, "plan": job.reason},
            )
        scheduler.add_listener(self._on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        scheduler.add_listener(self._on_started, EVENT_SCHEDULER_STARTED)
        self.scheduler = scheduler
        return scheduler

    # ---- jobs --------------------------------------------------------------------------------
    @contextmanager
    def _busy(self) -> Iterator[None]:
        with self._idle:
            self._running += 1
        try:
            yield
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def _wait_for_lock(self, job_id: str) -> float | None:
        """Wait until no other process holds the writer lock; return the wait budget left.

        Returns None when a stop was requested meanwhile; raises LockHeldError when the budget
        (``lock_wait_seconds``) runs out.
        """
        from tracker.warehouse.db import WriterLock

        budget = self.config.lock_wait_seconds
        if self.settings.lake is not None:
            return budget  # a lake has no writer lock: its transactions keep writers apart
        deadline = self._monotonic() + budget
        announced = False
        while True:
            lock = WriterLock(self.settings.db_path)
            try:
                lock.acquire()
            except LockHeldError as exc:
                if self.stop.is_set():
                    return None
                if self._monotonic() >= deadline:
                    raise LockHeldError(f"{exc} (the scheduler waited {budget:.0f}s)") from None
                if not announced:
                    log.warning(
                        "waiting for the writer lock (another tracker process is writing)",
                        extra={"job_id": job_id, "wait_seconds": budget},
                    )
                    announced = True
                self._sleep(_LOCK_POLL_SECONDS)
                continue
            lock.release()
            return max(0.0, deadline - self._monotonic())

    def collect_job(self, source: str) -> JobResult:
        """Run `tracker collect --source <source>` in-process and log its outcome."""
        job_id = collect_job_id(source)
        with self._busy():
            result = self._collect_job(job_id, source)
            if (
                result.outcome in ("ok", "partial")
                and self.config.report.after_collect
                and not self.stop.is_set()
            ):
                report = self._report_now(REPORT_JOB_ID + f" (after {job_id})")
                result.report_files = report.report_files
        self.results.append(result)
        return result

    def _collect_job(self, job_id: str, source: str) -> JobResult:
        if self.stop.is_set():
            return JobResult(job_id, "stopped", detail="stop requested before the job started")
        log.info("job started", extra={"job_id": job_id})
        try:
            remaining = self._wait_for_lock(job_id)
            if remaining is None:
                return JobResult(job_id, "stopped", detail="stop requested while waiting")
            collect = self._collect
            if collect is None:
                from tracker.runner import run_collect

                collect = run_collect
            summary = collect(
                self.settings,
                sources=[source],
                lock_wait=remaining,
                stop_requested=self.stop.is_set,
            )
        except LockHeldError as exc:
            log.error("job skipped: writer lock held", extra={"job_id": job_id, "error": str(exc)})
            return JobResult(job_id, "lock-held", detail=str(exc))
        except TrackerError as exc:
            log.error("job failed", extra={"job_id": job_id, "error": str(exc)})
            return JobResult(job_id, "error", detail=str(exc))
        if not summary.sources:
            outcome = "interrupted" if summary.interrupted else "skipped"
            log.info("job finished", extra={"job_id": job_id, "outcome": outcome})
            return JobResult(job_id, outcome)
        s = summary.sources[0]
        level = logging.INFO if s.status in ("ok", "skipped") else logging.WARNING
        if s.status == "failed":
            level = logging.ERROR
        log.log(
            level,
            "job finished",
            extra={
                "job_id": job_id,
                "run_id": s.run_id,
                "outcome": s.status,
                "tools_ok": s.tools_ok,
                "tools_failed": s.tools_failed,
                "rows": s.rows_written,
                "requests": s.requests,
                "seconds": round(s.seconds, 1),
                **({"note": s.note} if s.note else {}),
            },
        )
        return JobResult(job_id, s.status, run_id=s.run_id, detail=s.note)

    def report_job(self) -> JobResult:
        """Write the report (the ``report`` cron job)."""
        with self._busy():
            result = self._report_now(REPORT_JOB_ID)
        self.results.append(result)
        return result

    def _report_now(self, job_id: str) -> JobResult:
        if self.stop.is_set():
            return JobResult(job_id, "stopped")
        out_dir = self.config.report.out_dir
        try:
            files = self._report(
                self.settings, out_dir, self._now().date(), self.config.lock_wait_seconds
            )
        except TrackerError as exc:
            log.error("report failed", extra={"job_id": job_id, "error": str(exc)})
            return JobResult(job_id, "error", detail=str(exc))
        except OSError as exc:
            log.error(
                "report failed",
                extra={"job_id": job_id, "error": f"cannot write to {out_dir}: {exc.strerror}"},
            )
            return JobResult(job_id, "error", detail=str(exc))
        log.info("report written", extra={"job_id": job_id, "out": str(out_dir)})
        return JobResult(job_id, "ok", report_files=[str(p) for p in files])

    # ---- events and stopping -----------------------------------------------------------------
    def _on_event(self, event: Any) -> None:
        from apscheduler.events import EVENT_JOB_MISSED

        if event.code == EVENT_JOB_MISSED:
            log.warning(
                "job missed its misfire grace time; it runs at its next time",
                extra={"job_id": event.job_id, "scheduled_at": event.scheduled_run_time},
            )
        else:
            log.error(
                "job crashed",
                extra={
                    "job_id": event.job_id,
                    "error": f"{type(event.exception).__name__}: {event.exception}",
                },
            )

    def _on_started(self, event: Any) -> None:
        with self._state_lock:
            if self._shutdown_requested and self.scheduler is not None:
                self.scheduler.shutdown(wait=False)

    def request_stop(self, reason: str = "stop requested") -> None:
        """Stop the scheduler: no new job starts; the running one stops after its current tool."""
        if not self.stop.is_set():
            self.stop.set()
            self._stopping(reason)
        self._wake.set()

    def _stopping(self, reason: str) -> None:
        log.warning(reason + "; finishing the current tool, then exiting")
        self._wake.set()

    def _watch(self) -> None:
        self._wake.wait()
        with self._state_lock:
            self._shutdown_requested = True
            if self.scheduler is not None and self.scheduler.running:
                self.scheduler.shutdown(wait=False)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job is running; return False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout)

    def run(self) -> None:
        """Run until SIGINT/SIGTERM (or request_stop()); returns after the running job ends."""
        scheduler = self.scheduler
        if scheduler is None:
            raise RuntimeError("build() first")
        watcher = threading.Thread(target=self._watch, name="tracker-stop", daemon=True)
        watcher.start()
        with self.stop.installed():
            try:
                if not self.stop.is_set():
                    log.info(
                        "scheduler started",
                        extra={"jobs": ",".join(j.id for j in scheduler.get_jobs())},
                    )
                    scheduler.start()
                self.wait_idle()
            finally:
                self._wake.set()
        log.info("scheduler stopped")
