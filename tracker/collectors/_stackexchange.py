"""The Stack Exchange API as the ``stackoverflow`` source uses it: one call (questions per month,
``filter=total``), its errors, ``backoff`` and the day's quota. The collector and the rules it
follows are described in ``tracker.collectors.stackoverflow``.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx

from tracker.clock import Clock
from tracker.collectors._demand import add_months, month_start_ts
from tracker.collectors._http import json_body
from tracker.collectors.base import RequestCounter, describe_body
from tracker.errors import ParseError, RateLimitedError, UpstreamError

log = logging.getLogger("tracker.collectors.stackoverflow")

SOURCE = "stackoverflow"
SITE = "stackoverflow"
QUESTIONS_PATH = "/2.3/questions"
QUOTA_WITHOUT_KEY = 300
QUOTA_WITH_KEY = 10_000
# a throttle or backoff asking for longer than this ends the run instead of blocking it
MAX_WAIT = 300.0
MAX_BACKOFF = 7 * 86400.0

_WAIT_RE = re.compile(r"available in (\d{1,9}) seconds?", re.IGNORECASE)
_KEY_RE = re.compile(r"([?&]key=)[^&#\s\"']*")


def month_window(month: date) -> tuple[int, int]:
    """Return (fromdate, todate) in Unix seconds: the month's first and last second (UTC)."""
    return month_start_ts(month), month_start_ts(add_months(month, 1)) - 1


def throttle_wait(message: str) -> float | None:
    """Return the seconds in "... more requests available in N seconds", or None."""
    match = _WAIT_RE.search(message)
    return float(match.group(1)) if match else None


def redact_key(text: str) -> str:
    """Return ``text`` with the value of any ``key=`` query parameter replaced by ``***``."""
    return _KEY_RE.sub(r"\1***", text)


@dataclass(frozen=True, slots=True)
class SeAnswer:
    """A successful ``filter=total`` answer and the wrapper fields it carried (often none)."""

    total: int
    backoff: float | None = None
    quota_remaining: int | None = None
    quota_max: int | None = None


@dataclass(frozen=True, slots=True)
class SeError:
    """An error answer: ``{"error_id": 502, "error_name": "throttle_violation", ...}``."""

    error_id: int | None
    name: str
    message: str


def _non_negative_int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _wrapper(payload: dict[str, Any]) -> tuple[float | None, int | None, int | None]:
    backoff = payload.get("backoff")
    wait = (
        float(backoff)
        if isinstance(backoff, int | float) and not isinstance(backoff, bool) and backoff >= 0
        else None
    )
    if wait is not None and not math.isfinite(wait):
        wait = None
    elif wait is not None:
        wait = min(wait, MAX_BACKOFF)  # a week: anything longer ends the run all the same
    return (
        wait,
        _non_negative_int(payload.get("quota_remaining")),
        _non_negative_int(payload.get("quota_max")),
    )


def parse_error(payload: object) -> SeError | None:
    """Return the error of an answer (``error_id``/``error_name``/``error_message``), or None."""
    if not isinstance(payload, dict) or not ("error_id" in payload or "error_name" in payload):
        return None
    error_id = payload.get("error_id")
    name = payload.get("error_name")
    message = payload.get("error_message")
    return SeError(
        error_id if isinstance(error_id, int) and not isinstance(error_id, bool) else None,
        name if isinstance(name, str) else "unknown_error",
        message[:300] if isinstance(message, str) else "",
    )


def parse_answer(payload: object, *, url: str) -> SeAnswer:
    """Return the ``total`` of a ``filter=total`` answer and its wrapper fields."""
    if not isinstance(payload, dict):
        raise ParseError("payload is not a JSON object", source=SOURCE, field="$", url=url)
    total = _non_negative_int(payload.get("total"))
    if total is None:
        raise ParseError(
            f"not a non-negative integer: {payload.get('total')!r}"[:200],
            source=SOURCE,
            field="total",
            url=url,
        )
    backoff, remaining, quota_max = _wrapper(payload)
    return SeAnswer(total, backoff, remaining, quota_max)


class StackExchangeError(UpstreamError):
    """The API answered with an error object (``error_name`` says which)."""

    def __init__(self, error: SeError, *, url: str, status: int | None, tag: str | None):
        self.error = error
        self.tag = tag
        what = f"{error.name} ({error.error_id})" if error.error_id is not None else error.name
        about = f" for tag {tag!r}" if tag else ""
        super().__init__(
            f"{what}{about}: {error.message or 'no message'}",
            source=SOURCE,
            url=url,
            status=status,
        )


class QuotaExhaustedError(RateLimitedError):
    """The day's request quota is used up (by our own count, or as the API says)."""


def _iso_minute(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def next_utc_midnight(now: datetime) -> datetime:
    """Return 00:00 UTC of the day after ``now``."""
    day = now.astimezone(UTC).date() + timedelta(days=1)
    return datetime.combine(day, time(0), UTC)


class StackExchangeApi:
    """``/questions`` counts with backoff, throttle and quota accounting (serial, one client)."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        key: str | None,
        used_before: int,
        counter: RequestCounter,
        sleep: Callable[[float], None],
        now: Clock,
        max_wait: float = MAX_WAIT,
    ) -> None:
        self.client = client
        self.key = key
        self.quota = QUOTA_WITH_KEY if key else QUOTA_WITHOUT_KEY
        self.used_before = used_before
        self.counter = counter
        self.sleep = sleep
        self.now = now
        self.max_wait = max_wait
        self._start = counter.value
        self._backoff_until: dict[str, datetime] = {}
        self._server: tuple[int, int] | None = None  # (quota_remaining, counter value then)
        self.quota_max: int | None = None

    # ---- quota --------------------------------------------------------------------------------
    @property
    def used_today(self) -> int:
        """Return the requests counted against today's quota (earlier runs + this one)."""
        return self.used_before + self.counter.value - self._start

    def remaining(self) -> int:
        """Return how many requests the quota still allows (the API's figure when it gave one)."""
        if self._server is not None:
            remaining, then = self._server
            return remaining - (self.counter.value - then)
        return self.quota - self.used_today

    def exhausted(self, *, reset_at: datetime | None = None, detail: str | None = None) -> str:
        """Return the one-line reason for a quota stop."""
        reset = reset_at or next_utc_midnight(self.now())
        if detail is None:
            if self._server is not None:
                detail = f"quota_remaining {max(0, self.remaining())}"
                detail += f" of {self.quota_max}" if self.quota_max else ""
            else:
                detail = f"{self.used_today} of {self.quota} requests a day used"
                detail += "" if self.key else " without TRACKER_STACKEXCHANGE_KEY"
        return f"Stack Exchange quota exhausted ({detail}), run again after {_iso_minute(reset)}"

    # ---- calls --------------------------------------------------------------------------------
    def _honour_backoff(self, method: str) -> None:
        until = self._backoff_until.pop(method, None)
        if until is None:
            return
        wait = (until - self.now()).total_seconds()
        if wait <= 0:
            return
        if wait > self.max_wait:
            raise QuotaExhaustedError(
                f"Stack Exchange asked to back off {method} for {wait:.0f}s, "
                f"run again after {_iso_minute(until)}",
                source=SOURCE,
                url=self._url(method),
                reset_at=until,
            )
        log.info("stackoverflow: backoff, waiting %.1fs before the next %s call", wait, method)
        self.sleep(wait)

    def _note(
        self, method: str, backoff: float | None, remaining: int | None, qmax: int | None
    ) -> None:
        if backoff:
            self._backoff_until[method] = self.now() + timedelta(seconds=backoff)
        if remaining is not None:
            self._server = (remaining, self.counter.value)
        if qmax is not None:
            self.quota_max = qmax

    def _url(self, path: str) -> str:
        # never with the query: it holds the key
        return str(self.client.base_url.join(path).copy_with(query=None))

    def question_count(self, month: date, tag: str | None) -> int:
        """Return the questions created in ``month`` (with ``tag``, or all when None)."""
        fromdate, todate = month_window(month)
        params = {
            "site": SITE,
            "fromdate": str(fromdate),
            "todate": str(todate),
            "filter": "total",
        }
        if tag is not None:
            params["tagged"] = tag
        if self.key:
            params["key"] = self.key
        method = QUESTIONS_PATH
        url = self._url(method)
        where = f"{url} ({tag or 'all questions'}, {month:%Y-%m})"
        for attempt in range(2):
            self._honour_backoff(method)
            response = self.client.get(method, params=params)
            try:
                payload = json_body(response)
            except (ValueError, UnicodeDecodeError):
                payload = None
            if isinstance(payload, dict):
                self._note(method, *_wrapper(payload))
            error = parse_error(payload)
            if response.status_code == 200 and error is None:
                if payload is None:
                    raise UpstreamError(
                        f"invalid JSON ({describe_body(response)})",
                        source=SOURCE,
                        url=where,
                        status=200,
                    )
                return parse_answer(payload, url=where).total
            if error is None:
                raise UpstreamError(
                    describe_body(response), source=SOURCE, url=where, status=response.status_code
                )
            if error.name == "throttle_violation" or error.error_id == 502:
                wait = throttle_wait(error.message)
                if attempt == 0 and wait is not None and wait <= self.max_wait:
                    log.info("stackoverflow: throttled (%s), waiting %.0fs", error.message, wait)
                    self.sleep(wait)
                    continue
                reset = self.now() + timedelta(seconds=wait) if wait is not None else None
                raise QuotaExhaustedError(
                    self.exhausted(reset_at=reset, detail=f"throttle_violation: {error.message}"),
                    source=SOURCE,
                    url=where,
                    status=response.status_code,
                    reset_at=reset,
                )
            raise StackExchangeError(error, url=where, status=response.status_code, tag=tag)
        raise AssertionError("unreachable")  # pragma: no cover


class _KeyRedactor(logging.Filter):
    """Keeps the app key out of httpx's request log lines (``--log-level debug``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any("key=" in str(a) for a in record.args):
            record.args = tuple(redact_key(str(a)) if "key=" in str(a) else a for a in record.args)
        return True


def install_redactor() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _KeyRedactor) for f in logger.filters):
        logger.addFilter(_KeyRedactor())
