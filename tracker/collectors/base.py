"""Collector protocol, source registry, and the shared HTTP client (retries, backoff, counting).

A collector is one module per source. It takes the catalog tools that concern it and yields one
``ToolOutcome`` per tool: a ``ToolBatch`` of typed records (stored by the runner in one
transaction) or a ``ToolFailure``. Collectors never import duckdb; the cursors they need come
through ``CollectContext.state`` (a read-only view of the warehouse).
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import ClassVar, Protocol

import httpx

from tracker import __version__
from tracker.catalog import Tool
from tracker.clock import Clock, utc_now
from tracker.config import Settings
from tracker.errors import SourceUnreachableError, UpstreamError
from tracker.records import RepoSnapshotRecord, ToolFailure, ToolOutcome

__all__ = [
    "SOURCES",
    "USER_AGENT",
    "CollectContext",
    "Collector",
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
    "parse_retry_after",
    "register",
]

log = logging.getLogger(__name__)

USER_AGENT = f"tracker/{__version__} (+https://github.com/tracker-landscape/tracker)"

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


class RequestCounter:
    """Thread-safe count of HTTP requests sent (retries included)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self, n: int = 1) -> None:
        """Add ``n`` requests."""
        with self._lock:
            self.value += n


@dataclass(slots=True)
class CollectContext:
    """What a collector gets for one run: settings, warehouse cursors, counters, clock.

    ``state`` wraps the single warehouse connection, which the runner also writes through:
    read it only from the thread that runs ``collect()``, never from worker threads.
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


# ---- HTTP ------------------------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return seconds to wait from a Retry-After header (seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how long to retry: idempotent methods on connection errors, 5xx and 429."""

    retries: int = 4
    backoff_base: float = 1.0  # seconds; doubles each attempt, with jitter
    backoff_max: float = 60.0
    max_wait: float = 300.0  # never sleep longer than this for one Retry-After / reset
    retry_methods: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS"})
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    # unreachable requests in a row (each after its own retries) before the rest of the source
    # is skipped: 1, like the collectors that stop at their first unreachable answer
    breaker_threshold: int = 1


_CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout)
_TRANSIENT_ERRORS = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.PoolTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
)


def describe_body(response: httpx.Response) -> str:
    """Return a short description of an unexpected body: an HTML page, empty, or its first line."""
    ctype = response.headers.get("content-type", "")
    if "html" in ctype or response.content.lstrip()[:1] == b"<":
        return "HTML page instead of JSON"
    text = response.text.strip()
    return text.splitlines()[0][:120] if text else "empty body"


def _parses_as_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    return True


_DNS_MARKERS = (
    "name resolution",
    "name or service not known",
    "nodename nor servname",
    "no address associated",
    "getaddrinfo failed",
)


def is_dns_failure(exc: BaseException) -> bool:
    """Return True when ``exc`` says a host name did not resolve (not worth retrying soon)."""
    text = str(exc).lower()
    return any(marker in text for marker in _DNS_MARKERS)


def connect_failure(exc: BaseException) -> str:
    """Return a short cause for a connection that failed: the same words for every source."""
    text = str(exc).lower()
    if is_dns_failure(exc):
        return "cannot connect: host name does not resolve"
    if "refused" in text:
        return "cannot connect: connection refused"
    if "timed out" in text or "timeout" in type(exc).__name__.lower():
        return "cannot connect: connection timed out"
    if "unreachable" in text:
        return "cannot connect: network unreachable"
    first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
    return f"cannot connect: {type(exc).__name__}" + (f": {first}" if first else "")


class RetryTransport(httpx.BaseTransport):
    """Wraps a transport: counts requests, retries with backoff, trips a breaker when unreachable.

    Response bodies are read here so that a connection cut mid-body (a truncated payload) is
    retried like any other transient error.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        source: str,
        policy: RetryPolicy,
        counter: RequestCounter,
        sleep: Callable[[float], None],
        retry_post: bool = False,
        check_json: bool = False,
    ) -> None:
        self.inner = inner
        self.source = source
        self.policy = policy
        self.counter = counter
        self.sleep = sleep
        self.retry_post = retry_post
        self.check_json = check_json
        self._unreachable = 0
        self._unreachable_error: SourceUnreachableError | None = None
        self._lock = threading.Lock()

    def _can_retry(self, request: httpx.Request) -> bool:
        return request.method in self.policy.retry_methods or (
            self.retry_post and request.method == "POST"
        )

    def _backoff(self, attempt: int) -> float:
        base = min(self.policy.backoff_max, self.policy.backoff_base * float(2**attempt))
        return base * (0.5 + random.random() / 2)

    def _wait_for(self, response: httpx.Response, attempt: int) -> float:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is not None:
            return retry_after
        if response.headers.get("x-ratelimit-remaining") == "0":
            reset = response.headers.get("x-ratelimit-reset")
            if reset and reset.isdigit():
                return max(0.0, int(reset) - time.time()) + 1.0
        return self._backoff(attempt)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url.copy_with(query=None))
        with self._lock:
            first = self._unreachable_error
            if self._unreachable >= self.policy.breaker_threshold and first is not None:
                raise first.for_url(url)
        attempt = 0
        while True:
            self.counter.add()
            try:
                response = self.inner.handle_request(request)
                response.read()
            except _CONNECT_ERRORS as exc:
                # a name that does not resolve will not resolve in a few seconds either
                retryable = not is_dns_failure(exc) and attempt < min(self.policy.retries, 2)
                if retryable and self._can_retry(request):
                    delay = self._backoff(attempt)
                    log.debug(
                        "%s: %s on %s, retry in %.1fs", self.source, type(exc).__name__, url, delay
                    )
                    self.sleep(delay)
                    attempt += 1
                    continue
                error = SourceUnreachableError(connect_failure(exc), source=self.source, url=url)
                log.debug("%s: %s (%s: %s)", self.source, error, type(exc).__name__, exc)
                with self._lock:
                    self._unreachable += 1
                    self._unreachable_error = error
                raise error from exc
            except _TRANSIENT_ERRORS as exc:
                if attempt < self.policy.retries and self._can_retry(request):
                    delay = self._backoff(attempt)
                    log.debug(
                        "%s: %s on %s, retry in %.1fs", self.source, type(exc).__name__, url, delay
                    )
                    self.sleep(delay)
                    attempt += 1
                    continue
                raise UpstreamError(
                    f"{type(exc).__name__}: {exc} (after {attempt + 1} attempts)",
                    source=self.source,
                    url=url,
                ) from exc
            with self._lock:
                self._unreachable = 0
            log.debug("%s %s -> %s", request.method, url, response.status_code)
            if (
                self.check_json
                and response.status_code == 200
                and "json" in response.headers.get("content-type", "")
                and not _parses_as_json(response.content)
                and attempt < self.policy.retries
                and self._can_retry(request)
            ):
                delay = self._backoff(attempt)
                log.info(
                    "%s: JSON body cut short on %s, retry %d in %.1fs",
                    self.source,
                    url,
                    attempt + 1,
                    delay,
                )
                self.sleep(delay)
                attempt += 1
                continue
            if (
                response.status_code in self.policy.retry_statuses
                and attempt < self.policy.retries
                and self._can_retry(request)
            ):
                delay = self._wait_for(response, attempt)
                if delay > self.policy.max_wait:
                    return response  # too far away: let the collector report it
                log.info(
                    "%s: HTTP %s on %s, retry %d in %.1fs",
                    self.source,
                    response.status_code,
                    url,
                    attempt + 1,
                    delay,
                )
                response.close()
                self.sleep(delay)
                attempt += 1
                continue
            return response

    def close(self) -> None:
        self.inner.close()


def make_client(
    ctx: CollectContext,
    *,
    source: str,
    base_url: str,
    headers: dict[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    retry_post: bool = False,
    check_json: bool = False,
    policy: RetryPolicy | None = None,
) -> httpx.Client:
    """Return an httpx client for ``base_url`` with User-Agent, timeouts and retries.

    ``transport`` replaces the network (tests pass respx's or an ``httpx.MockTransport``).
    Secrets go in ``headers`` only; httpx never logs header values.
    """
    inner = transport or httpx.HTTPTransport()
    retry = RetryTransport(
        inner,
        source=source,
        policy=policy or RetryPolicy(retries=ctx.settings.http_retries),
        counter=ctx.requests,
        sleep=ctx.sleep,
        retry_post=retry_post,
        check_json=check_json,
    )
    all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    timeout = httpx.Timeout(ctx.settings.http_timeout, connect=min(10.0, ctx.settings.http_timeout))
    return httpx.Client(
        base_url=base_url,
        headers=all_headers,
        timeout=timeout,
        transport=retry,
        follow_redirects=True,
    )


class RateLimiter:
    """Spaces calls so that at most ``rate`` happen per ``per`` seconds (thread-safe)."""

    def __init__(
        self,
        rate: int,
        per: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = per / rate
        self._sleep = sleep
        self._clock = clock
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until the next call is allowed."""
        with self._lock:
            now = self._clock()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            self._sleep(delay)


def open_breaker(client: httpx.Client) -> SourceUnreachableError | None:
    """Return the failure that opened ``client``'s unreachable-host breaker, or None when closed.

    Loops ask before a request that needs work first (a rate limiter's wait, a cursor read).
    """
    transport = client._transport  # the RetryTransport that make_client installed
    if not isinstance(transport, RetryTransport):
        return None
    with transport._lock:
        if transport._unreachable >= transport.policy.breaker_threshold:
            return transport._unreachable_error
    return None
