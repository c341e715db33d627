"""Scheduler wiring: config validation, jobs and triggers, catch-up, job outcomes, lock waits.

No test sleeps: triggers are asked for fire times at fixed instants, job functions are called
directly, and the one test that runs the real BlockingScheduler loop is driven by events.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tracker.cli import app
from tracker.collectors.base import SOURCES
from tracker.config import Settings, load_settings
from tracker.errors import ConfigError
from tracker.runner import CollectSummary, SourceSummary
from tracker.schedule import ScheduleService, last_successes, planned_jobs
from tracker.schedule_config import (
    SourceSchedule,
    cron_trigger,
    freshness,
    load_schedule_config,
    schedule_period,
)

NOW = datetime(2025, 3, 12, 10, 0, tzinfo=UTC)  # a Wednesday


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tracker.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ---- config ----------------------------------------------------------------------------------


def test_defaults_without_a_file(tmp_path: Path) -> None:
    cfg = load_schedule_config(cwd=tmp_path)
    assert cfg.file is None
    assert [s.source for s in cfg.sources] == list(SOURCES)
    assert all(s.enabled for s in cfg.sources)
    assert schedule_period(cfg.source("github").cron, NOW) == timedelta(days=1)
    assert schedule_period(cfg.source("pypistats").cron, NOW) == timedelta(days=1)
    assert schedule_period(cfg.source("pypi").cron, NOW) == timedelta(hours=6)
    assert schedule_period(cfg.source("clickpy").cron, NOW) == timedelta(days=7)
    assert schedule_period(cfg.source("apache").cron, NOW) == timedelta(days=7)
    # demand: the HN thread grows daily; Stack Overflow's backfill advances one quota a day
    assert schedule_period(cfg.source("hn").cron, NOW) == timedelta(days=1)
    assert schedule_period(cfg.source("stackoverflow").cron, NOW) == timedelta(days=1)
    assert cfg.report.after_collect and cfg.report.cron is None
    assert cfg.source("pypi").misfire_grace == timedelta(hours=6)


def test_tracker_toml_in_cwd_is_read(tmp_path: Path) -> None:
    _write(
        tmp_path,
        """
[schedule]
jitter_seconds = 0
lock_wait_seconds = 30
misfire_grace_hours = 2
catch_up = false

[sources.github]
cron = "0 1 * * *"
max_age_hours = 50

[sources.apache]
enabled = false

[report]
after_collect = false
cron = "0 7 * * mon"
out = "site"
""",
    )
    cfg = load_schedule_config(cwd=tmp_path)
    assert cfg.file == str(tmp_path / "tracker.toml")
    assert cfg.jitter_seconds == 0 and cfg.lock_wait_seconds == 30 and not cfg.catch_up
    gh = cfg.source("github")
    assert gh.cron == "0 1 * * *" and gh.max_age == timedelta(hours=50)
    assert gh.misfire_grace == timedelta(hours=2)
    assert not cfg.source("apache").enabled
    assert cfg.report.cron == "0 7 * * mon" and cfg.report.out_dir == Path("site")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[sources.gihub]\ncron = '0 1 * * *'\n", "sources.gihub: unknown source"),
        ("[sources.pypi]\ncron = '61 * * * *'\n", "sources.pypi.cron: bad cron expression"),
        ("[sources.pypi]\ncron = '* * *'\n", "sources.pypi.cron: bad cron expression"),
        ("[sources.pypi]\nschedule = 'daily'\n", "sources.pypi.schedule: unknown key"),
        ("[schedule]\njitter = 3\n", "schedule.jitter: unknown key"),
        ("[schedule]\nlock_wait_seconds = -1\n", "schedule.lock_wait_seconds: expected a number"),
        ("[schedule]\ncatch_up = 'yes'\n", "schedule.catch_up: expected true or false"),
        ("[report]\ncron = '0 0 * * 9'\n", "report.cron: bad cron expression"),
        ("[reports]\n", "reports: unknown key"),
        ("[sources.pypi\n", "invalid TOML"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_schedule_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_bad_config_exits_2_from_the_cli(tmp_path: Path) -> None:
    path = _write(tmp_path, "[sources.pypi]\ncron = 'every day'\n")
    for args in (["schedule", "--config", str(path)], ["status", "--config", str(path)]):
        result = CliRunner().invoke(app, [*args, "--db", str(tmp_path / "t.duckdb")])
        assert result.exit_code == 2, result.output
        assert "sources.pypi.cron: bad cron expression 'every day'" in result.output


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["schedule", "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "nope.toml: config file not found" in result.output


def test_crontab_weekday_numbers_mean_what_cron_means() -> None:
    # cron: 0 and 7 = Sunday; APScheduler 3 alone would read 0 as Monday
    sunday = cron_trigger("0 3 * * 0").get_next_fire_time(None, NOW)
    assert sunday == datetime(2025, 3, 16, 3, 0, tzinfo=UTC)
    assert cron_trigger("0 3 * * 7").get_next_fire_time(None, NOW) == sunday
    assert cron_trigger("0 3 * * sun").get_next_fire_time(None, NOW) == sunday
    weekdays = cron_trigger("0 3 * * 1-5")
    fires = []
    t = weekdays.get_next_fire_time(None, NOW)
    for _ in range(5):
        assert t is not None
        fires.append(t.strftime("%a"))
        t = weekdays.get_next_fire_time(t, t)
    assert fires == ["Thu", "Fri", "Mon", "Tue", "Wed"]
    assert schedule_period("0 3 * * 1-5", NOW) == timedelta(days=3)  # Friday -> Monday


def test_cron_trigger_is_utc_with_jitter() -> None:
    trigger = cron_trigger("0 2 * * *", jitter_seconds=300)
    assert trigger.timezone == UTC
    assert trigger.jitter == 300


# ---- freshness -------------------------------------------------------------------------------


def _sched(cron: str = "0 2 * * *", **kw: Any) -> SourceSchedule:
    base: dict[str, Any] = {
        "source": "github",
        "enabled": True,
        "cron": cron,
        "misfire_grace": timedelta(hours=6),
        "max_age": None,
    }
    base.update(kw)
    return SourceSchedule(**base)


def test_freshness_against_the_schedule() -> None:
    daily = _sched()
    fresh = freshness(daily, NOW - timedelta(hours=30), NOW)
    assert fresh.state == "fresh" and not fresh.is_stale
    assert fresh.period == timedelta(days=1) and fresh.max_age == timedelta(hours=36)
    stale = freshness(daily, NOW - timedelta(hours=37), NOW)
    assert stale.state == "stale" and stale.is_stale and stale.age == timedelta(hours=37)
    never = freshness(daily, None, NOW)
    assert never.state == "never" and never.is_stale and never.age is None
    off = freshness(_sched(enabled=False), None, NOW)
    assert off.state == "disabled" and not off.is_stale
    explicit = freshness(_sched(max_age=timedelta(hours=26)), NOW - timedelta(hours=27), NOW)
    assert explicit.state == "stale"
    # a naive UTC timestamp (as DuckDB returns it) is read as UTC
    naive = freshness(daily, (NOW - timedelta(hours=2)).replace(tzinfo=None), NOW)
    assert naive.age == timedelta(hours=2)
    six_hourly = freshness(_sched("40 */6 * * *"), NOW - timedelta(hours=9, minutes=1), NOW)
    assert six_hourly.max_age == timedelta(hours=9) and six_hourly.state == "stale"


# ---- planned jobs and the scheduler ----------------------------------------------------------


def test_catch_up_is_decided_from_last_successes(tmp_path: Path) -> None:
    cfg = load_schedule_config(cwd=tmp_path)
    last = {
        "github": NOW - timedelta(hours=3),  # daily, fresh
        "pypi": NOW - timedelta(hours=7),  # every 6h: overdue
        "pypistats": None,  # never
        "clickpy": NOW - timedelta(days=6),  # weekly, fresh
        "apache": NOW - timedelta(days=8),  # weekly: overdue
        "hn": NOW - timedelta(hours=20),  # daily, fresh
        "stackoverflow": NOW - timedelta(hours=20),  # daily, fresh
    }
    plan = {j.job_id: j for j in planned_jobs(cfg, last, NOW)}
    assert {k for k, j in plan.items() if j.run_now} == {
        "collect:pypi",
        "collect:pypistats",
        "collect:apache",
    }
    assert plan["collect:pypistats"].reason == "catch-up: never succeeded"
    no_catch_up = load_schedule_config(_write(tmp_path, "[schedule]\ncatch_up = false\n"))
    assert not any(j.run_now for j in planned_jobs(no_catch_up, last, NOW))


def test_scheduler_jobs_are_configured_as_documented(tmp_path: Path) -> None:
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    path = _write(
        tmp_path,
        "[sources.apache]\nenabled = false\n[report]\ncron = '0 7 * * *'\n"
        "[schedule]\nmisfire_grace_hours = 4\njitter_seconds = 120\n",
    )
    cfg = load_schedule_config(path)
    service = ScheduleService(Settings(db_path=tmp_path / "t.duckdb"), cfg, now=lambda: NOW)
    last: dict[str, datetime | None] = dict.fromkeys(
        ("github", "pypi", "pypistats", "clickpy", "hn", "stackoverflow"), NOW
    )
    last["pypi"] = None
    scheduler = service.build(last)
    assert isinstance(scheduler, BlockingScheduler)
    assert isinstance(scheduler._jobstores["default"], MemoryJobStore)
    executor = scheduler._executors["default"]
    assert isinstance(executor, ThreadPoolExecutor)
    assert executor._pool._max_workers == 1  # jobs run one after another
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {
        "collect:github",
        "collect:pypi",
        "collect:pypistats",
        "collect:clickpy",
        "collect:hn",
        "collect:stackoverflow",
        "report",
    }
    for job in jobs.values():
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time == 4 * 3600
        assert isinstance(job.trigger, CronTrigger)
        assert job.trigger.timezone == UTC
        assert job.trigger.jitter == 120
    assert jobs["collect:github"].args == ("github",)
    assert jobs["collect:github"].func == service.collect_job
    assert jobs["report"].func == service.report_job
    # catch-up: pypi never succeeded, so it is due now; the others wait for their cron
    assert jobs["collect:pypi"].next_run_time == NOW
    assert getattr(jobs["collect:github"], "next_run_time", None) is None  # from the trigger
    github_next = jobs["collect:github"].trigger.get_next_fire_time(None, NOW)
    # 02:10 UTC the next day, plus up to 120 s of jitter
    assert NOW + timedelta(hours=16, minutes=10) <= github_next
    assert github_next <= NOW + timedelta(hours=16, minutes=12)


class FakeCollect:
    """Stands in for run_collect: records calls, returns a summary with a chosen status."""

    def __init__(self, status: str = "ok", on_call: Callable[[], None] | None = None) -> None:
        self.status = status
        self.calls: list[dict[str, Any]] = []
        self.on_call = on_call

    def __call__(
        self,
        settings: Settings,
        *,
        sources: Sequence[str] = (),
        lock_wait: float = 0.0,
        stop_requested: Callable[[], bool] = lambda: False,
    ) -> CollectSummary:
        self.calls.append({"sources": list(sources), "lock_wait": lock_wait})
        if self.on_call:
            self.on_call()
        summary = CollectSummary(db_path=str(settings.db_path))
        summary.sources.append(
            SourceSummary(source=sources[0], run_id=41, status=self.status, tools_ok=3)
        )
        summary.interrupted = stop_requested()
        return summary


class FakeReport:
    def __init__(self) -> None:
        self.calls: list[tuple[Path, date, float]] = []

    def __call__(self, settings: Settings, out: Path, as_of: date, wait: float) -> list[Path]:
        self.calls.append((out, as_of, wait))
        return [out / "summary.md"]


def _service(
    tmp_path: Path, collect: FakeCollect, report: FakeReport, toml: str = ""
) -> ScheduleService:
    cfg = load_schedule_config(_write(tmp_path, toml)) if toml else load_schedule_config()
    return ScheduleService(
        Settings(db_path=tmp_path / "t.duckdb"),
        cfg,
        collect=collect,
        report=report,
        now=lambda: NOW,
    )


def test_collect_job_runs_collect_then_the_report(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    collect, report = FakeCollect("ok"), FakeReport()
    service = _service(tmp_path, collect, report)
    with caplog.at_level(logging.INFO, logger="tracker.schedule"):
        result = service.collect_job("pypi")
    assert collect.calls[0]["sources"] == ["pypi"]
    assert collect.calls[0]["lock_wait"] == pytest.approx(600, abs=5)  # what is left of 600 s
    assert report.calls == [(Path("reports-out"), NOW.date(), 600.0)]
    assert result.outcome == "ok" and result.run_id == 41
    assert result.report_files == [str(Path("reports-out") / "summary.md")]
    finished = [r for r in caplog.records if r.getMessage() == "job finished"]
    assert len(finished) == 1
    assert finished[0].__dict__["run_id"] == 41
    assert finished[0].__dict__["job_id"] == "collect:pypi"
    assert finished[0].__dict__["outcome"] == "ok"


def test_the_default_report_job_judges_staleness_by_the_schedulers_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracker.reports

    seen: list[object] = []

    def fake_run_report(*args: object) -> object:
        seen.append(args[-1])  # the schedule argument
        return type("Result", (), {"files": [tmp_path / "summary.md"]})()

    monkeypatch.setattr(tracker.reports, "run_report", fake_run_report)
    cfg = load_schedule_config(_write(tmp_path, "[sources.pypi]\nmax_age_hours = 3\n"))
    service = ScheduleService(Settings(db_path=tmp_path / "t.duckdb"), cfg, now=lambda: NOW)
    assert service.report_job().outcome == "ok"
    assert seen == [cfg]  # not ./tracker.toml or the built-in defaults


@pytest.mark.parametrize(("status", "reports"), [("partial", 1), ("failed", 0), ("skipped", 0)])
def test_report_only_after_a_successful_collect(tmp_path: Path, status: str, reports: int) -> None:
    collect, report = FakeCollect(status), FakeReport()
    result = _service(tmp_path, collect, report).collect_job("github")
    assert result.outcome == status
    assert len(report.calls) == reports


def test_report_after_collect_can_be_turned_off(tmp_path: Path) -> None:
    collect, report = FakeCollect("ok"), FakeReport()
    _service(tmp_path, collect, report, "[report]\nafter_collect = false\n").collect_job("pypi")
    assert len(collect.calls) == 1 and report.calls == []


def test_no_job_starts_after_a_stop(tmp_path: Path) -> None:
    collect, report = FakeCollect("ok"), FakeReport()
    service = _service(tmp_path, collect, report)
    service.request_stop("test")
    assert service.collect_job("pypi").outcome == "stopped"
    assert service.report_job().outcome == "stopped"
    assert collect.calls == [] and report.calls == []


def test_a_stop_during_the_collect_skips_the_report(tmp_path: Path) -> None:
    report = FakeReport()
    service: ScheduleService
    collect = FakeCollect("interrupted", on_call=lambda: service.request_stop("test"))
    service = _service(tmp_path, collect, report)
    assert service.collect_job("pypi").outcome == "interrupted"
    assert report.calls == []


# ---- lock contention -------------------------------------------------------------------------


def _lock_waiting_service(
    tmp_path: Path,
    wait_seconds: int,
    clock: list[float],
    sleep: Callable[[float], None],
    **extra: Any,
) -> tuple[ScheduleService, FakeCollect, FakeReport]:
    """Return a service that waits up to ``wait_seconds`` for the writer lock, its collect and report."""
    collect, report = FakeCollect("ok"), FakeReport()
    service = ScheduleService(
        Settings(db_path=tmp_path / "t.duckdb"),
        load_schedule_config(_write(tmp_path, f"[schedule]\nlock_wait_seconds = {wait_seconds}\n")),
        collect=collect,
        report=report,
        monotonic=lambda: clock[0],
        sleep=sleep,
        **extra,
    )
    return service, collect, report


def test_job_waits_for_the_writer_lock_then_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tracker.warehouse.db import WriterLock

    held = WriterLock(tmp_path / "t.duckdb")
    held.acquire()
    clock = [0.0]
    sleeps: list[float] = []

    def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds
        if len(sleeps) == 3:
            held.release()  # the manual collect finishes while the job waits

    service, collect, _ = _lock_waiting_service(tmp_path, 60, clock, fake_sleep, now=lambda: NOW)
    with caplog.at_level(logging.INFO, logger="tracker.schedule"):
        result = service.collect_job("pypi")
    assert result.outcome == "ok"
    assert len(sleeps) == 3
    assert collect.calls[0]["lock_wait"] == pytest.approx(60 - sum(sleeps))
    waits = [r for r in caplog.records if "waiting for the writer lock" in r.getMessage()]
    assert len(waits) == 1  # said once, not per poll


def test_job_gives_up_after_the_lock_wait(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from tracker.warehouse.db import WriterLock

    clock = [0.0]

    def fake_sleep(seconds: float) -> None:
        clock[0] += seconds

    service, collect, report = _lock_waiting_service(tmp_path, 10, clock, fake_sleep)
    with WriterLock(tmp_path / "t.duckdb"), caplog.at_level(logging.INFO):
        result = service.collect_job("github")
    assert result.outcome == "lock-held"
    assert result.detail is not None
    assert "being written by another tracker process" in result.detail
    assert "waited 10s" in result.detail
    assert collect.calls == [] and report.calls == []
    assert any(r.getMessage() == "job skipped: writer lock held" for r in caplog.records)


def test_manual_collect_while_the_scheduler_writes_exits_2(db_path: Path) -> None:
    from tracker.warehouse.db import WriterLock

    with WriterLock(db_path):
        result = CliRunner().invoke(app, ["collect", "--source", "pypi", "--db", str(db_path)])
    assert result.exit_code == 2
    assert "is being written by another tracker process" in result.output
    assert "--wait" in result.output


def test_two_writer_locks_exclude_each_other(db_path: Path) -> None:
    from tracker.errors import LockHeldError
    from tracker.warehouse.db import WriterLock

    with WriterLock(db_path), pytest.raises(LockHeldError, match=r"pid=\d+"):
        WriterLock(db_path).acquire()
    with WriterLock(db_path):  # free again once released
        pass


# ---- the real loop, driven by events ---------------------------------------------------------


def test_blocking_scheduler_runs_due_jobs_and_stops_cleanly(tmp_path: Path) -> None:
    """The real BlockingScheduler runs the catch-up jobs one at a time; a stop ends run()."""
    ran: list[str] = []
    second_started = threading.Event()
    service: ScheduleService

    def on_call() -> None:
        ran.append(threading.current_thread().name)
        if len(ran) == 2:
            second_started.set()
            service.request_stop("test")

    collect, report = FakeCollect("ok", on_call=on_call), FakeReport()
    service = ScheduleService(
        Settings(db_path=tmp_path / "t.duckdb"),
        load_schedule_config(
            _write(tmp_path, "[report]\nafter_collect = false\n[schedule]\njitter_seconds = 0\n")
        ),
        collect=collect,
        report=report,
    )
    service.build(dict.fromkeys(("github", "pypi", "pypistats", "clickpy", "apache")))
    runner = threading.Thread(target=service.run)
    runner.start()
    assert second_started.wait(30), "the scheduler did not run the due jobs"
    runner.join(30)
    assert not runner.is_alive(), "run() did not return after the stop"
    # one worker thread: jobs ran one after another; after the stop no further job collected
    assert len(collect.calls) == 2
    assert len(set(ran)) == 1
    assert [r.outcome for r in service.results][:2] == ["ok", "ok"]
    assert all(r.outcome == "stopped" for r in service.results[2:])
    assert service.scheduler is not None and not service.scheduler.running


def test_last_successes_reads_runs_and_closes_the_db(db_path: Path) -> None:
    import duckdb

    from tracker.warehouse.db import WriterLock, open_db
    from tracker.warehouse.store import Store

    with WriterLock(db_path):
        con = open_db(db_path)
        store = Store(con)
        run = store.start_run("pypi")
        store.finish_run(run, status="ok", tools_ok=1, tools_failed=0, requests=1, rows_written=1)
        failed = store.start_run("github")
        store.finish_run(
            failed, status="failed", tools_ok=0, tools_failed=1, requests=1, rows_written=0
        )
        con.close()
    found = last_successes(load_settings().with_db(db_path), lock_wait=0)
    assert found["github"] is None
    pypi = found["pypi"]
    assert pypi is not None and pypi.tzinfo is not None
    assert abs(datetime.now(UTC) - pypi) < timedelta(minutes=5)
    duckdb.connect(str(db_path)).close()  # nothing holds the file open any more


def test_shipped_example_config_is_valid_and_matches_the_defaults(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parent.parent / "deploy" / "tracker.toml.example"
    cfg = load_schedule_config(example)
    defaults = load_schedule_config(cwd=tmp_path)
    assert cfg.sources == defaults.sources
    assert cfg.report == defaults.report
    assert (cfg.jitter_seconds, cfg.lock_wait_seconds, cfg.catch_up) == (
        defaults.jitter_seconds,
        defaults.lock_wait_seconds,
        defaults.catch_up,
    )
