"""Request budgets: those an upstream announces (GitHub's primary and secondary limits), and
``RateLimiter``, which spaces requests to a published rate.

The HTTP transport (``_http.RetryTransport``) asks a ``RateGate`` before each request (a budget
already seen at zero: wait for a near reset, otherwise stop with ``RateLimitedError`` without
spending a request) and after each answer (403/429 meaning a limit: how long to wait, or stop).
Docs: https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from tracker.errors import RateLimitedError

__all__ = [
    "RateBook",
    "RateGate",
    "RateLimitRules",
    "RateLimiter",
    "RateState",
    "RateTries",
    "parse_retry_after",
]

log = logging.getLogger(__name__)


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
class RateLimitRules:
    """How an upstream says "over budget" (defaults: GitHub REST and GraphQL)."""

    label: str = "GitHub"  # names the service in messages
    statuses: frozenset[int] = frozenset({403, 429})
    primary_waits: int = 2  # waits for a near reset of one request before giving the answer back
    secondary_wait: float = 60.0  # first wait without Retry-After (seconds); doubles each time
    secondary_markers: tuple[str, ...] = ("secondary rate limit",)
    get_resource: str = "core"  # the budget a request draws from when no header names it
    post_resource: str = "graphql"


@dataclass(slots=True)
class RateState:
    """The latest x-ratelimit-* figures seen for one resource (``core``, ``graphql`` ...)."""

    limit: int | None = None
    remaining: int | None = None
    reset: int | None = None  # epoch seconds


def _header_int(headers: httpx.Headers, name: str) -> int | None:
    try:
        return int(float(headers[name]))
    except (KeyError, ValueError):
        return None


class RateBook:
    """The latest budget per resource, as the answers' headers report it (thread-safe)."""

    def __init__(self) -> None:
        self._states: dict[str, RateState] = {}
        self._lock = threading.Lock()

    def record(self, headers: httpx.Headers, resource: str) -> None:
        """Keep the x-ratelimit-* figures of one answer (the header names the resource)."""
        remaining = _header_int(headers, "x-ratelimit-remaining")
        if remaining is None:
            return
        with self._lock:
            state = self._states.setdefault(
                headers.get("x-ratelimit-resource") or resource, RateState()
            )
            state.remaining = remaining
            state.limit = _header_int(headers, "x-ratelimit-limit")
            state.reset = _header_int(headers, "x-ratelimit-reset")

    def exhausted(self, resource: str) -> int | None:
        """Return the reset (epoch seconds) of a budget last seen at zero, else None."""
        with self._lock:
            state = self._states.get(resource)
            if state is None or state.remaining != 0:
                return None
            return state.reset

    def forget(self, resource: str) -> None:
        """Mark the budget unknown (after waiting for its reset)."""
        with self._lock:
            if resource in self._states:
                self._states[resource].remaining = None

    def summary(self) -> str:
        """Return e.g. ``core 4990/5000, graphql 4999/5000`` (for logs)."""
        with self._lock:
            items = sorted(self._states.items())
        return ", ".join(f"{name} {st.remaining}/{st.limit}" for name, st in items)


@dataclass(slots=True)
class RateTries:
    """Rate-limit waits already spent on one request."""

    primary: int = 0
    secondary: int = 0


def _iso_minute(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%MZ")


@dataclass(slots=True)
class RateGate:
    """Applies ``rules`` for one client: waits (``sleep``) or raises RateLimitedError."""

    rules: RateLimitRules
    book: RateBook
    source: str
    sleep: Callable[[float], None]
    clock: Callable[[], float]  # epoch seconds (the collector's injected clock)
    max_wait: float  # never wait longer than this for one reset or Retry-After
    retries: int  # secondary-limit waits per request

    def resource(self, request: httpx.Request) -> str:
        """Return the budget ``request`` draws from."""
        return self.rules.post_resource if request.method == "POST" else self.rules.get_resource

    def before(self, request: httpx.Request, url: str) -> None:
        """Wait for (or stop at) a budget already seen at zero, before spending a request."""
        resource = self.resource(request)
        reset = self.book.exhausted(resource)
        if reset is not None:
            self._wait_for_reset(reset, url, None)
            self.book.forget(resource)

    def after(
        self, request: httpx.Request, response: httpx.Response, tries: RateTries
    ) -> float | None:
        """Record the budget; return seconds to wait before asking again, None: not a limit."""
        self.book.record(response.headers, self.resource(request))
        status = response.status_code
        if status not in self.rules.statuses:
            return None
        url = str(request.url)
        if response.headers.get("x-ratelimit-remaining") == "0" and (
            tries.primary < self.rules.primary_waits
        ):
            tries.primary += 1
            reset = _header_int(response.headers, "x-ratelimit-reset")
            wait = self._wait_for_reset(reset, url, status)
            self.book.forget(response.headers.get("x-ratelimit-resource") or self.resource(request))
            return wait  # 0 when the reset already passed: ask again at once
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        secondary = any(m in response.text.lower() for m in self.rules.secondary_markers)
        if status != 429 and retry_after is None and not secondary:
            return None  # a plain 403 (forbidden): the caller reads it
        wait = (
            retry_after
            if retry_after is not None
            else self.rules.secondary_wait * 2.0**tries.secondary
        )
        if tries.secondary < self.retries and wait <= self.max_wait:
            tries.secondary += 1
            log.info("%s: secondary rate limit, waiting %.0fs", self.source, wait)
            return wait
        reset = int(self.clock() + wait)
        raise RateLimitedError(
            f"{self.rules.label} secondary rate limit: retry after {_iso_minute(reset)};"
            " run again after that",
            source=self.source,
            url=url,
            status=status,
            reset_at=datetime.fromtimestamp(reset, UTC),
        )

    def _wait_for_reset(self, reset: int | None, url: str, status: int | None) -> float:
        """Return the wait until a near ``reset`` (0 when passed); raise when it is far."""
        wait = (reset - self.clock() + 1.0) if reset is not None else None
        if wait is not None and wait <= 0:
            return 0.0
        if wait is not None and wait <= self.max_wait:
            log.info("%s: rate limit exhausted, waiting %.0fs for the reset", self.source, wait)
            if status is None:  # before a request: wait here
                self.sleep(wait)
            return wait
        until = _iso_minute(reset) if reset is not None else "an unknown time"
        raise RateLimitedError(
            f"{self.rules.label} rate limit exhausted until {until} (x-ratelimit-reset);"
            " run again after that",
            source=self.source,
            url=url.split("?")[0],
            status=status,
            reset_at=datetime.fromtimestamp(reset, UTC) if reset is not None else None,
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
