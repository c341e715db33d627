"""The schedule configuration (``tracker.toml``): cron per source, report, waits; freshness rules.

Pure: reads TOML with tomllib, validates every key, and builds APScheduler cron triggers (UTC).
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from tracker.errors import ConfigError

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "DEFAULT_CRON",
    "Freshness",
    "ReportSchedule",
    "ScheduleConfig",
    "SourceSchedule",
    "cron_trigger",
    "default_schedule_config",
    "freshness",
    "load_schedule_config",
    "schedule_period",
]

DEFAULT_CONFIG_FILE = "tracker.toml"

# UTC. Daily sources early in the UTC morning (pypistats publishes the previous day after
# midnight UTC), PyPI releases every 6 hours, the slow weekly sources on Sundays, the demand
# sources daily (Stack Exchange's quota is per day).
DEFAULT_CRON: dict[str, str] = {
    "github": "10 2 * * *",
    "pypi": "40 */6 * * *",
    "pypistats": "20 4 * * *",
    "clickpy": "30 5 * * sun",
    "apache": "50 5 * * sun",
    # demand: the HN thread grows all month (daily re-read costs 3 requests); Stack Overflow's
    # backfill advances by one day's quota a run, so it must run daily to finish
    "hn": "0 6 * * *",
    "stackoverflow": "15 6 * * *",
}

_DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab numbering, 0 = Sunday
_DOW_ITEM = re.compile(r"^(\*|\d+)(?:-(\d+))?(?:/(\d+))?$")


@dataclass(frozen=True, slots=True)
class SourceSchedule:
    """When one source runs and when `tracker status` and the report call it stale."""

    source: str
    enabled: bool
    cron: str
    misfire_grace: timedelta
    max_age: timedelta | None  # None: derived from the cron period


@dataclass(frozen=True, slots=True)
class ReportSchedule:
    """When the scheduler writes the report."""

    after_collect: bool
    cron: str | None
    out_dir: Path


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    """The whole schedule: one entry per source (in SOURCES order), the report, waits."""

    sources: tuple[SourceSchedule, ...]
    report: ReportSchedule
    jitter_seconds: int
    lock_wait_seconds: float
    catch_up: bool
    file: str | None  # the file it was read from; None: built-in defaults

    def source(self, name: str) -> SourceSchedule:
        """Return the schedule of source ``name``."""
        for s in self.sources:
            if s.source == name:
                return s
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class Freshness:
    """Age of a source's last success measured against its schedule."""

    state: str  # fresh | stale | never | disabled
    age: timedelta | None
    period: timedelta
    max_age: timedelta

    @property
    def is_stale(self) -> bool:
        """Return True when monitoring should alert (stale, or never succeeded)."""
        return self.state in ("stale", "never")


# ---- cron ------------------------------------------------------------------------------------


def _crontab_dow(field: str) -> str:
    """Return a crontab day-of-week field (0/7 = Sunday) in APScheduler 3's terms (names)."""
    if field == "*" or not any(c.isdigit() for c in field):
        return field  # names (mon-fri, sun) mean the same in both
    days: set[int] = set()
    for item in field.split(","):
        match = _DOW_ITEM.match(item)
        if not match:
            raise ValueError(f"day of week {item!r}: use numbers 0-7 or names mon..sun")
        start_txt, end_txt, step_txt = match.groups()
        if start_txt == "*":
            start, end = 0, 6
        else:
            start = int(start_txt)
            end = int(end_txt) if end_txt else (7 if step_txt else start)
        step = int(step_txt) if step_txt else 1
        if not (0 <= start <= 7 and 0 <= end <= 7) or start > end or step < 1:
            raise ValueError(f"day of week {item!r} is out of range 0-7")
        days.update(d % 7 for d in range(start, end + 1, step))
    return ",".join(_DOW_NAMES[d] for d in sorted(days))


def cron_trigger(expr: str, *, jitter_seconds: int = 0) -> CronTrigger:
    """Return a UTC CronTrigger for a 5-field crontab line (weekday 0 = Sunday, as in cron).

    APScheduler 3's ``CronTrigger.from_crontab`` numbers weekdays from Monday
    (https://github.com/agronholm/apscheduler/issues/286); numeric weekdays are converted.
    Raises ValueError on a bad expression.
    """
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
    fields[4] = _crontab_dow(fields[4])
    CronTrigger.from_crontab(" ".join(fields), timezone=UTC)  # APScheduler's own validation
    minute, hour, day, month, dow = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=dow,
        timezone=UTC,
        jitter=jitter_seconds or None,
    )


def schedule_period(expr: str, now: datetime, *, samples: int = 14) -> timedelta:
    """Return the longest gap between consecutive fire times of ``expr`` after ``now`` (UTC)."""
    trigger = cron_trigger(expr)
    previous = trigger.get_next_fire_time(None, now)
    longest = timedelta(0)
    for _ in range(samples):
        if previous is None:
            break
        following = trigger.get_next_fire_time(previous, previous)
        if following is None:
            break
        longest = max(longest, following - previous)
        previous = following
    return longest or timedelta(days=366)


def freshness(
    schedule: SourceSchedule, last_success_at: datetime | None, now: datetime
) -> Freshness:
    """Return the freshness of a source whose last success ended at ``last_success_at`` (UTC).

    Stale when older than ``max_age`` (default: the cron period plus half a period, at least
    one hour, for the run's own duration and jitter).
    """
    period = schedule_period(schedule.cron, now)
    max_age = schedule.max_age or period + max(period / 2, timedelta(hours=1))
    if last_success_at is not None and last_success_at.tzinfo is None:
        last_success_at = last_success_at.replace(tzinfo=UTC)
    age = None if last_success_at is None else max(now - last_success_at, timedelta(0))
    if not schedule.enabled:
        state = "disabled"
    elif age is None:
        state = "never"
    else:
        state = "stale" if age > max_age else "fresh"
    return Freshness(state=state, age=age, period=period, max_age=max_age)


# ---- the TOML file ---------------------------------------------------------------------------

_TOP_KEYS = {"schedule", "sources", "report"}
_SCHEDULE_KEYS = {"jitter_seconds", "lock_wait_seconds", "misfire_grace_hours", "catch_up"}
_SOURCE_KEYS = {"enabled", "cron", "misfire_grace_hours", "max_age_hours"}
_REPORT_KEYS = {"after_collect", "cron", "out"}


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.file}: {key}: {message}")

    def table(
        self, value: object, key: str, allowed: set[str], noun: str = "key"
    ) -> dict[str, object]:
        if not isinstance(value, dict):
            raise self.error(key, "expected a table")
        for name in value:
            if name not in allowed:
                raise self.error(
                    f"{key}.{name}" if key else name,
                    f"unknown {noun} (known: {', '.join(sorted(allowed))})",
                )
        return {str(k): v for k, v in value.items()}

    def boolean(self, table: dict[str, object], name: str, key: str, default: bool) -> bool:
        value = table.get(name, default)
        if not isinstance(value, bool):
            raise self.error(f"{key}.{name}", f"expected true or false, got {value!r}")
        return value

    def number(
        self,
        table: dict[str, object],
        name: str,
        key: str,
        default: float,
        *,
        positive: bool = False,
    ) -> float:
        value = table.get(name, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self.error(f"{key}.{name}", f"expected a number, got {value!r}")
        if value < 0 or (positive and value == 0):
            raise self.error(
                f"{key}.{name}", f"expected a number {'> 0' if positive else '>= 0'}, got {value!r}"
            )
        return float(value)

    def cron(
        self, table: dict[str, object], name: str, key: str, default: str | None
    ) -> str | None:
        value = table.get(name, default)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.error(f"{key}.{name}", f"expected a cron expression string, got {value!r}")
        try:
            cron_trigger(value)
        except ValueError as exc:
            raise self.error(f"{key}.{name}", f"bad cron expression {value!r}: {exc}") from None
        return value


def default_schedule_config() -> ScheduleConfig:
    """Return the built-in schedule (what no ``tracker.toml`` means)."""
    from tracker.collectors.base import SOURCES

    return _build({}, None, SOURCES)


def load_schedule_config(path: Path | None = None, *, cwd: Path | None = None) -> ScheduleConfig:
    """Return the schedule from ``path`` (or ``./tracker.toml`` when present, else defaults).

    Raises ConfigError naming the file and key on any problem.
    """
    from tracker.collectors.base import SOURCES

    if path is None:
        candidate = (cwd or Path.cwd()) / DEFAULT_CONFIG_FILE
        if not candidate.is_file():
            return default_schedule_config()
        path = candidate
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return _build(data, str(path), SOURCES)


def _build(data: dict[str, object], file: str | None, known: tuple[str, ...]) -> ScheduleConfig:
    r = _Reader(file or DEFAULT_CONFIG_FILE)
    top = r.table(data, "", _TOP_KEYS)
    sched = r.table(top.get("schedule", {}), "schedule", _SCHEDULE_KEYS)
    jitter = r.number(sched, "jitter_seconds", "schedule", 300)
    if jitter != int(jitter):
        raise r.error("schedule.jitter_seconds", f"expected whole seconds, got {jitter!r}")
    lock_wait = r.number(sched, "lock_wait_seconds", "schedule", 600)
    grace_hours = r.number(sched, "misfire_grace_hours", "schedule", 6, positive=True)
    catch_up = r.boolean(sched, "catch_up", "schedule", True)

    raw_sources = r.table(top.get("sources", {}), "sources", set(known), "source")
    sources = []
    for name in known:
        key = f"sources.{name}"
        entry = r.table(raw_sources.get(name, {}), key, _SOURCE_KEYS)
        cron = r.cron(entry, "cron", key, DEFAULT_CRON[name])
        if cron is None:
            raise r.error(f"{key}.cron", "must not be empty (set enabled = false instead)")
        max_age_hours = (
            r.number(entry, "max_age_hours", key, 0, positive=True)
            if "max_age_hours" in entry
            else None
        )
        sources.append(
            SourceSchedule(
                source=name,
                enabled=r.boolean(entry, "enabled", key, True),
                cron=cron,
                misfire_grace=timedelta(
                    hours=r.number(entry, "misfire_grace_hours", key, grace_hours, positive=True)
                ),
                max_age=None if max_age_hours is None else timedelta(hours=max_age_hours),
            )
        )

    rep = r.table(top.get("report", {}), "report", _REPORT_KEYS)
    out = rep.get("out", "reports-out")
    if not isinstance(out, str) or not out:
        raise r.error("report.out", f"expected a directory path, got {out!r}")
    report = ReportSchedule(
        after_collect=r.boolean(rep, "after_collect", "report", True),
        cron=r.cron(rep, "cron", "report", None),
        out_dir=Path(out),
    )
    return ScheduleConfig(
        sources=tuple(sources),
        report=report,
        jitter_seconds=int(jitter),
        lock_wait_seconds=lock_wait,
        catch_up=catch_up,
        file=file,
    )
