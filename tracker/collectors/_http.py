"""The one HTTP policy every source uses: client factory, retries, backoff, budgets, breaker.

``make_client`` returns an httpx client whose ``RetryTransport`` counts requests, retries
idempotent requests (and POSTs where allowed) on connection errors, 5xx and 429 with backoff that
honours ``Retry-After`` and ``x-ratelimit-reset``, retries JSON bodies cut short, applies an
upstream's rate-limit rules (``_ratelimit``: GitHub's primary and secondary limits) and trips a
breaker when the host is unreachable. Secrets go in the client's headers only.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from tracker import __version__
from tracker.collectors._ratelimit import (
    RateBook,
    RateGate,
    RateLimitRules,
    RateTries,
    parse_retry_after,
)
from tracker.errors import SourceUnreachableError, UpstreamError

if TYPE_CHECKING:
    from tracker.collectors.base import CollectContext

__all__ = [
    "USER_AGENT",
    "RequestCounter",
    "RetryPolicy",
    "RetryTransport",
    "connect_failure",
    "describe_body",
    "is_dns_failure",
    "json_body",
    "make_client",
    "open_breaker",
]

log = logging.getLogger(__name__)

USER_AGENT = f"tracker/{__version__} (+https://github.com/tracker-landscape/tracker)"


class RequestCounter:
    """Thread-safe count of HTTP requests sent (retries included)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self, n: int = 1) -> None:
        """Add ``n`` requests."""
        with self._lock:
            self.value += n


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
    # an upstream's own budget protocol (GitHub's x-ratelimit-* and secondary limits), or None
    rate_limits: RateLimitRules | None = None


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


_JSON_KEY = "tracker.json"  # the decoded body, kept by the body check: parsed once
_DECODE_KEY = "tracker.decode"  # the client's JSON decoder


def _parses_as_json(response: httpx.Response, decode: Callable[[bytes], object]) -> bool:
    try:
        response.extensions[_JSON_KEY] = decode(response.content)
    except (ValueError, UnicodeDecodeError):
        return False
    return True


def json_body(response: httpx.Response) -> Any:
    """Return the decoded JSON body; raises ValueError / UnicodeDecodeError when it is not JSON.

    A body the retry transport already checked is not parsed a second time; the client's
    decoder (``make_client(decode=...)``, ``json.loads`` by default) decodes it."""
    if _JSON_KEY in response.extensions:
        return response.extensions[_JSON_KEY]
    return response.extensions.get(_DECODE_KEY, json.loads)(response.content)


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


class _Retry(Exception):
    """Internal: ask again after ``delay`` seconds (``backoff``: the wait counts as an attempt)."""

    def __init__(self, delay: float, *, backoff: bool = True) -> None:
        super().__init__(delay)
        self.delay = delay
        self.backoff = backoff


class RetryTransport(httpx.BaseTransport):
    """Wraps a transport: counts requests, retries with backoff, trips a breaker when unreachable.

    Response bodies are read here so that a connection cut mid-body (a truncated payload) is
    retried like any other transient error. The answer given back carries the number of
    attempts in ``response.extensions["attempts"]``.
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
        decode: Callable[[bytes], object] = json.loads,
        clock: Callable[[], float] = time.time,
        rates: RateBook | None = None,
    ) -> None:
        self.inner = inner
        self.source = source
        self.policy = policy
        self.counter = counter
        self.sleep = sleep
        self.retry_post = retry_post
        self.check_json = check_json
        self.decode = decode
        self.clock = clock
        self.gate = (
            RateGate(
                policy.rate_limits,
                rates if rates is not None else RateBook(),
                source=source,
                sleep=sleep,
                clock=clock,
                max_wait=policy.max_wait,
                retries=policy.retries,
            )
            if policy.rate_limits is not None
            else None
        )
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
                return max(0.0, int(reset) - self.clock()) + 1.0
        return self._backoff(attempt)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url.copy_with(query=None))
        with self._lock:
            first = self._unreachable_error
            if self._unreachable >= self.policy.breaker_threshold and first is not None:
                raise first.for_url(url)
        if self.gate is not None:
            self.gate.before(request, url)
        attempt = 0
        tries = RateTries()
        while True:
            self.counter.add()
            try:
                response = self._send(request, url, attempt)
                self._check(request, response, url, attempt, tries)
            except _Retry as retry:
                if retry.delay > 0 or retry.backoff:
                    self.sleep(retry.delay)
                attempt += retry.backoff
                continue
            response.extensions["attempts"] = attempt + 1
            response.extensions[_DECODE_KEY] = self.decode
            return response

    def _send(self, request: httpx.Request, url: str, attempt: int) -> httpx.Response:
        """Send once and read the body; raise _Retry on a transient failure worth retrying."""
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
                raise _Retry(delay) from exc
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
                raise _Retry(delay) from exc
            raise UpstreamError(
                f"{type(exc).__name__}: {exc} (after {attempt + 1} attempts)",
                source=self.source,
                url=url,
            ) from exc
        with self._lock:
            self._unreachable = 0
        log.debug("%s %s -> %s", request.method, url, response.status_code)
        return response

    def _check(
        self,
        request: httpx.Request,
        response: httpx.Response,
        url: str,
        attempt: int,
        tries: RateTries,
    ) -> None:
        """Raise _Retry when the answer asks for another try: rate limit, cut JSON, 5xx, 429."""
        if self.gate is not None:
            wait = self.gate.after(request, response, tries)
            if wait is not None:
                response.close()
                raise _Retry(wait, backoff=False)
        can_retry = attempt < self.policy.retries and self._can_retry(request)
        if (
            can_retry
            and self.check_json
            and response.status_code == 200
            and "json" in response.headers.get("content-type", "")
            and not _parses_as_json(response, self.decode)
        ):
            delay = self._backoff(attempt)
            log.info(
                "%s: JSON body cut short on %s, retry %d in %.1fs",
                self.source,
                url,
                attempt + 1,
                delay,
            )
            raise _Retry(delay)
        if can_retry and response.status_code in self.policy.retry_statuses:
            delay = self._wait_for(response, attempt)
            if delay > self.policy.max_wait:
                return  # too far away: let the collector report it
            log.info(
                "%s: HTTP %s on %s, retry %d in %.1fs",
                self.source,
                response.status_code,
                url,
                attempt + 1,
                delay,
            )
            response.close()
            raise _Retry(delay)

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
    decode: Callable[[bytes], object] = json.loads,
    policy: RetryPolicy | None = None,
    rates: RateBook | None = None,
) -> httpx.Client:
    """Return an httpx client for ``base_url`` with User-Agent, timeouts and retries.

    ``transport`` replaces the network (tests pass respx's or an ``httpx.MockTransport``).
    Secrets go in ``headers`` only; httpx never logs header values. With a policy that has
    ``rate_limits``, ``rates`` receives the budgets the answers report. ``decode`` turns a
    JSON body into its value (``json_body``); with ``check_json`` a 200 JSON answer it cannot
    decode is retried as cut short.
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
        decode=decode,
        clock=lambda: ctx.now().timestamp(),
        rates=rates,
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
