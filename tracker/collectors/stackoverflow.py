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

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import ClassVar

from tracker.catalog import Tool
from tracker.collectors._demand import (
    DEMAND_SINCE,
    add_months,
    demand_client,
    iter_months,
    month_of,
    stackoverflow_tags,
)
from tracker.collectors._stackexchange import (
    QUOTA_WITH_KEY,
    QUOTA_WITHOUT_KEY,
    SOURCE,
    QuotaExhaustedError,
    SeAnswer,
    SeError,
    StackExchangeApi,
    StackExchangeError,
    install_redactor,
    month_window,
    next_utc_midnight,
    parse_answer,
    parse_error,
    redact_key,
    throttle_wait,
)
from tracker.collectors.base import BaseCollector, CollectContext, register
from tracker.errors import RateLimitedError, SourceUnreachableError, TrackerError
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
    "next_utc_midnight",
    "parse_answer",
    "parse_error",
    "redact_key",
    "throttle_wait",
]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _ToolState:
    tool: Tool
    tags: tuple[str, ...]
    missing: set[date]
    records: list[DemandRecord]
    error: str | None = None


@register(SOURCE)
class StackoverflowCollector(BaseCollector):
    """Counts questions per month for each tool's tags, newest months first, within the quota."""

    name: ClassVar[str] = SOURCE

    def applicable(self, tool: Tool) -> bool:
        """Return True when the catalog names the tool's Stack Overflow tags."""
        return bool(stackoverflow_tags(tool))

    def collect(self, ctx: CollectContext, tools: Sequence[Tool]) -> Iterator[ToolOutcome]:
        """Yield one outcome per tool once the run is over (the quota or the backfill ends it)."""
        now = ctx.now()
        newest = add_months(month_of(now), -1)  # complete months only
        months = sorted(iter_months(DEMAND_SINCE, newest), reverse=True)
        stored = ctx.state.demand_months(SOURCE)
        day_start = datetime.combine(now.astimezone(UTC).date(), time(0), UTC)
        run = _Run(
            states=[
                _ToolState(
                    tool,
                    stackoverflow_tags(tool),
                    {m for m in months if m not in stored.get(tool.id, frozenset())},
                    [],
                )
                for tool in tools
            ],
            totals=dict(ctx.state.demand_totals(SOURCE)),
        )
        key = ctx.settings.stackexchange_key
        if key:
            install_redactor()
        url = ctx.settings.stackexchange_url
        with demand_client(ctx, SOURCE, url, self.transport) as client:
            api = StackExchangeApi(
                client,
                key=key,
                used_before=ctx.state.requests_since(SOURCE, day_start),
                counter=ctx.requests,
                sleep=ctx.sleep,
                now=ctx.now,
            )
            for month in months:
                if not run.read_month(ctx, api, month):
                    break
        if run.stop is not None:
            log.info("stackoverflow: stopped: %s", run.stop)  # the outcome of every tool says it
        log.info(
            "stackoverflow: %d requests today (%s)",
            api.used_today,
            f"quota_remaining {api.remaining()}" if api.quota_max else f"quota {api.quota}",
        )
        for st in run.states:
            yield _outcome(st, run.stop, run.interrupted)


@dataclass(slots=True)
class _Run:
    """One run's progress: per tool what is left, the counts asked so far, why it stopped."""

    states: list[_ToolState]
    totals: dict[date, int]  # the site's questions per month
    counts: dict[tuple[str, date], int] = field(default_factory=dict)  # shared tags asked once
    stop: str | None = None
    interrupted: bool = False

    def read_month(self, ctx: CollectContext, api: StackExchangeApi, month: date) -> bool:
        """Ask ``month``'s counts for every tool still missing it; False when the run must stop."""
        for st in self.states:
            if st.error is not None or month not in st.missing:
                continue
            if ctx.stop_requested():
                self.interrupted = True
                return False
            asks: list[str | None] = [t for t in st.tags if (t, month) not in self.counts]
            if month not in self.totals:
                asks.insert(0, None)
            if api.remaining() < len(asks):
                self.stop = api.exhausted()
                return False
            self.stop = self._ask(api, st, month, asks)
            if self.stop is not None:
                return False
        return True

    def _ask(
        self, api: StackExchangeApi, st: _ToolState, month: date, asks: list[str | None]
    ) -> str | None:
        """Ask the counts one tool lacks for ``month`` and record its row; the reason to stop the
        run when one is refused (a refused tag only skips its tool)."""
        try:
            for tag in asks:
                n = api.question_count(month, tag)
                if tag is None:
                    self.totals[month] = n
                else:
                    self.counts[(tag, month)] = n
        except StackExchangeError as exc:
            if exc.tag is not None and exc.error.name == "bad_parameter":
                st.error = str(exc)  # this tool's tag is refused: skip the tool
                return None
            return str(exc)
        except (RateLimitedError, SourceUnreachableError) as exc:
            return exc.reason if isinstance(exc, RateLimitedError) else str(exc)
        except TrackerError as exc:  # 5xx after retries, odd payloads: stop asking
            return str(exc)
        st.records.append(
            DemandRecord(
                tool_id=st.tool.id,
                source=SOURCE,
                month=month,
                mentions=sum(self.counts[(t, month)] for t in st.tags),
                total=self.totals[month],
            )
        )
        st.missing.discard(month)
        return None


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
