"""Stack Overflow: questions asked per month with each tool's tags, and the site's total per month.

Docs: https://api.stackexchange.com/docs (2.3): ``/questions``, ``filter=total``, throttles
(https://api.stackexchange.com/docs/throttle) and errors (.../docs/error-handling).

- ``GET /2.3/questions?site=stackoverflow&tagged=<tag>&fromdate=<unix>&todate=<unix>
  &filter=total`` answers ``{"total": N}``: the questions created in that window with that tag.
  Without ``tagged`` it counts every question of the site (the month's ``total``). ``tagged=a;b``
  would mean "both tags", so each tag is asked on its own and a tool's ``mentions`` is the sum
  over its tags: a question carrying two of one tool's tags is counted twice (the API offers no
  "either tag" count; subtracting the ``a;b`` overlap would cost a request per pair and month).
  The window is the calendar month in UTC, ``fromdate`` = its first second and ``todate`` = its
  last second (the docs do not say whether ``todate`` is inclusive; this way no question is
  counted in two months either way).
- Only complete months are collected (up to the previous month): a stored month is final and is
  not asked again, so after the backfill a month costs one request per tag plus one for the
  site total, once.
- Quota: 300 requests a day per IP without an app key, 10,000 with ``TRACKER_STACKEXCHANGE_KEY``
  (sent as ``key=``; not secret, but never logged). ``filter=total`` strips the response wrapper,
  so ``quota_remaining`` is usually absent: the collector counts its own requests against the
  day's quota, starting from the requests that this day's earlier runs logged in ``runs``, and
  trusts ``quota_remaining`` whenever an answer carries it. The day is the UTC day (an estimate:
  Stack Exchange does not document when the quota resets; a ``throttle_violation`` that says
  "more requests available in N seconds" gives the exact time and wins).
- ``backoff`` (seconds, on any answer): no call to the same method before that long has passed.
- Errors are JSON ``{"error_id", "error_name", "error_message"}`` with HTTP 400 (throttling too:
  ``error_id`` 502, ``throttle_violation``). A short throttle wait is slept and the call repeated
  once; a long one means the quota is gone.

Backfill order: newest months first across all tools (every tool gets its recent months before
any tool gets old ones), from the previous month back to January 2015. A month is stored for a
tool only when all its tags were counted, so a run cut by the quota never leaves a partial sum;
the next run starts from the stored rows (no state file) and asks only for what is missing.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

import httpx

from tracker.catalog import Tool
from tracker.clock import Clock
from tracker.collectors._demand import (
    DEMAND_SINCE,
    add_months,
    iter_months,
    month_of,
    month_start_ts,
    stackoverflow_tags,
)
from tracker.collectors.base import (
    CollectContext,
    RequestCounter,
    describe_body,
    make_client,
    register,
)
from tracker.errors import (
    ParseError,
    RateLimitedError,
    SourceUnreachableError,
    TrackerError,
    UpstreamError,
)
from tracker.records import DemandRecord, ToolBatch, ToolFailure, ToolOutcome

__all__ = [
    "QUOTA_WITHOUT_KEY",
    "QUOTA_WITH_KEY",
    "QuotaExhaustedError",
    "SeAnswer",
    "SeError",
    "StackExchangeApi",
    "StackExchangeError",
    "StackoverflowCollector",
    "month_window",
    "parse_answer",
    "parse_error",
    "throttle_wait",
]

log = logging.getLogger(__name__)

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
                payload = json.loads(response.content)
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


def _install_redactor() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _KeyRedactor) for f in logger.filters):
        logger.addFilter(_KeyRedactor())


@dataclass(slots=True)
class _ToolState:
    tool: Tool
    tags: tuple[str, ...]
    missing: set[date]
    records: list[DemandRecord]
    error: str | None = None


@register(SOURCE)
class StackoverflowCollector:
    """Counts questions per month for each tool's tags, newest months first, within the quota."""

    name: ClassVar[str] = SOURCE

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self.transport = transport

    def applicable(self, tool: Tool) -> bool:
        """Return True when the catalog names the tool's Stack Overflow tags."""
        return bool(stackoverflow_tags(tool))

    def collect(self, ctx: CollectContext, tools: Sequence[Tool]) -> Iterator[ToolOutcome]:
        """Yield one outcome per tool once the run is over (the quota or the backfill ends it)."""
        now = ctx.now()
        newest = add_months(month_of(now), -1)  # complete months only
        months = sorted(iter_months(DEMAND_SINCE, newest), reverse=True)
        stored = ctx.state.demand_months(SOURCE)
        totals = dict(ctx.state.demand_totals(SOURCE))
        day_start = datetime.combine(now.astimezone(UTC).date(), time(0), UTC)
        used_before = ctx.state.requests_since(SOURCE, day_start)
        states = [
            _ToolState(
                tool,
                stackoverflow_tags(tool),
                {m for m in months if m not in stored.get(tool.id, frozenset())},
                [],
            )
            for tool in tools
        ]
        counts: dict[tuple[str, date], int] = {}  # tags shared by two tools are asked once
        stop: str | None = None
        interrupted = False
        key = ctx.settings.stackexchange_key
        if key:
            _install_redactor()
        with make_client(
            ctx,
            source=SOURCE,
            base_url=ctx.settings.stackexchange_url,
            headers={"Accept": "application/json"},
            transport=self.transport,
            check_json=True,
        ) as client:
            api = StackExchangeApi(
                client,
                key=key,
                used_before=used_before,
                counter=ctx.requests,
                sleep=ctx.sleep,
                now=ctx.now,
            )
            for month in months:
                for st in states:
                    if st.error is not None or month not in st.missing:
                        continue
                    if ctx.stop_requested():
                        interrupted = True
                        break
                    asks: list[str | None] = [t for t in st.tags if (t, month) not in counts]
                    if month not in totals:
                        asks.insert(0, None)
                    if api.remaining() < len(asks):
                        stop = api.exhausted()
                        break
                    try:
                        for tag in asks:
                            n = api.question_count(month, tag)
                            if tag is None:
                                totals[month] = n
                            else:
                                counts[(tag, month)] = n
                    except StackExchangeError as exc:
                        if exc.tag is not None and exc.error.name == "bad_parameter":
                            st.error = str(exc)  # this tool's tag is refused: skip the tool
                            continue
                        stop = str(exc)
                        break
                    except (RateLimitedError, SourceUnreachableError) as exc:
                        stop = exc.reason if isinstance(exc, RateLimitedError) else str(exc)
                        break
                    except TrackerError as exc:  # 5xx after retries, odd payloads: stop asking
                        stop = str(exc)
                        break
                    st.records.append(
                        DemandRecord(
                            tool_id=st.tool.id,
                            source=SOURCE,
                            month=month,
                            mentions=sum(counts[(t, month)] for t in st.tags),
                            total=totals[month],
                        )
                    )
                    st.missing.discard(month)
                if stop is not None or interrupted:
                    break
        if stop is not None:
            log.info("stackoverflow: stopped: %s", stop)  # the outcome of every tool says it
        log.info(
            "stackoverflow: %d requests today (%s)",
            api.used_today,
            f"quota_remaining {api.remaining()}" if api.quota_max else f"quota {api.quota}",
        )
        for st in states:
            yield _outcome(st, stop, interrupted)


def _outcome(st: _ToolState, stop: str | None, interrupted: bool) -> ToolOutcome:
    records = tuple(sorted(st.records, key=lambda r: r.month))
    errors: list[str] = []
    if st.error is not None:
        errors.append(st.error)
    elif st.missing:
        why = stop or ("stop requested" if interrupted else "not reached")
        if records:
            oldest, newest = min(st.missing), max(st.missing)
            span = f"{len(st.missing)} month(s) {oldest:%Y-%m}..{newest:%Y-%m} left"
            errors.append(f"not fully collected: {why}; {span}")
        else:
            errors.append(f"not collected: {why}")
    if errors and not records:
        return ToolFailure(st.tool.id, "; ".join(errors))
    return ToolBatch(
        tool_id=st.tool.id,
        demand=records,
        errors=tuple(errors),
        counters=(("months_stored", len(records)),),
    )
