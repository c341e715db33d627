"""Collector protocol, source registry, ``isolate``; the shared HTTP client is re-exported from
``_http`` (retries, backoff, rate limits, counting).

A collector is one module per source. It takes the catalog tools that concern it and yields one
``ToolOutcome`` per tool: a ``ToolBatch`` of typed records (stored by the runner in one
transaction) or a ``ToolFailure``. Collectors never import duckdb; the cursors they need come
through ``CollectContext.state`` (a read-only view of the warehouse).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import ClassVar, Protocol

import httpx

from tracker.catalog import Tool
from tracker.clock import Clock, utc_now
from tracker.collectors._http import (
    USER_AGENT,
    RequestCounter,
    RetryPolicy,
    RetryTransport,
    connect_failure,
    describe_body,
    is_dns_failure,
    make_client,
    open_breaker,
)
from tracker.collectors._ratelimit import RateBook, RateLimiter, RateLimitRules, parse_retry_after
from tracker.config import Settings
from tracker.records import RepoSnapshotRecord, ToolFailure, ToolOutcome

__all__ = [
    "SOURCES",
    "USER_AGENT",
    "BaseCollector",
    "CollectContext",
    "Collector",
    "RateBook",
    "RateLimitRules",
    "RateLimiter",
    "RequestCounter",
    "RetryPolicy",
    "RetryTransport",
    "WarehouseState",
    "connect_failure",
    "describe_body",
    "get_collector",
    "is_dns_failure",
    "isolate",
    "make_client",
    "open_breaker",
    "parse_retry_after",
    "register",
]

log = logging.getLogger(__name__)


# Contract names, in the order `tracker collect` runs them.
SOURCES: tuple[str, ...] = (
    "github",
    "pypi",
    "pypistats",
    "clickpy",
    "apache",
    "hn",
    "stackoverflow",
)


class WarehouseState(Protocol):
    """Read-only cursors a collector may ask the warehouse for."""

    def http_validators(self, url: str) -> tuple[str | None, str | None]: ...
    def last_download_day(self, tool_id: str, package: str, source: str) -> date | None: ...
    def last_star_week(self, tool_id: str, source: str = "github") -> date | None: ...
    def http_fetched_at(self, url: str) -> datetime | None: ...
    def latest_snapshot_record(self, tool_id: str) -> RepoSnapshotRecord | None: ...
    def recent_snapshots(self, tool_id: str, since: datetime) -> tuple[RepoSnapshotRecord, ...]: ...
    def last_release_at(self, tool_id: str, source: str) -> datetime | None: ...
    def demand_months(self, source: str) -> dict[str, frozenset[date]]: ...
    def demand_totals(self, source: str) -> dict[date, int]: ...
    def requests_since(self, source: str, since: datetime) -> int: ...


@dataclass(slots=True)
class CollectContext:
    """What a collector gets for one run: settings, warehouse cursors, counters, clock.

    ``state`` is the run's plan (``tracker.warehouse.cursors.SourcePlan``): the cursors of the
    selected tools, read before the run, immutable, safe to read from any thread. A collector
    never sees the store (tests may pass any object with these reads).
    """

    settings: Settings
    state: WarehouseState
    requests: RequestCounter = field(default_factory=RequestCounter)
    sleep: Callable[[float], None] = time.sleep
    now: Clock = utc_now
    # set by the runner when SIGTERM/SIGINT asks the run to stop after the current tool
    stop_requested: Callable[[], bool] = lambda: False


class Collector(Protocol):
    """One upstream source."""

    name: ClassVar[str]

    def applicable(self, tool: Tool) -> bool:
        """Return True when ``tool`` has something this source can collect."""
        ...

    def collect(self, ctx: CollectContext, tools: Sequence[Tool]) -> Iterator[ToolOutcome]:
        """Yield exactly one outcome per tool in ``tools``."""
        ...


@dataclass(eq=False)
class BaseCollector:
    """What a collector is built with (a subclass adds its own knobs as fields)."""

    name: ClassVar[str]
    transport: httpx.BaseTransport | None = None  # None: the network; tests pass a mock
    clock: Callable[[], float] = time.monotonic  # what a RateLimiter spaces requests by


_REGISTRY: dict[str, Callable[[], Collector]] = {}


def register(name: str) -> Callable[[Callable[[], Collector]], Callable[[], Collector]]:
    """Class decorator: register a collector factory under a source name of SOURCES."""

    def wrap(factory: Callable[[], Collector]) -> Callable[[], Collector]:
        if name not in SOURCES:
            raise ValueError(f"unknown source name {name!r}")
        _REGISTRY[name] = factory
        return factory

    return wrap


def get_collector(name: str) -> Collector | None:
    """Return a new collector for source ``name``, or None when it is not implemented."""
    from tracker.collectors import _load_all

    _load_all()
    factory = _REGISTRY.get(name)
    return factory() if factory else None


def isolate(tool_id: str, work: Callable[[], ToolOutcome]) -> ToolOutcome:
    """Return ``work()``; an unexpected error (a parser bug on odd upstream data) becomes that
    tool's ToolFailure, logged with its traceback, so it cannot end the whole source."""
    try:
        return work()
    except Exception as exc:
        log.exception("unexpected error", extra={"tool_id": tool_id})
        return ToolFailure(tool_id, f"unexpected error: {type(exc).__name__}: {exc}"[:500])
