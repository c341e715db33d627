"""The fake's plumbing every emulator shares: requests, responses, the request log, faults."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

SOURCES = ("github", "pypi", "pypistats", "clickpy", "apache", "hn", "stackoverflow")
LOGGED_HEADERS = (
    "user-agent",
    "accept",
    "if-none-match",
    "if-modified-since",
    "x-github-api-version",
    "content-type",
)
BLOCK_TIMEOUT = 120.0  # a blocked response never outlives a forgotten release by more than this


def at(text: str) -> datetime:
    """Return an aware UTC datetime from ISO 8601 text (``Z`` accepted)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- requests, responses, log ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """One parsed request, as the emulators see it."""

    source: str
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]  # lower-case names; includes Authorization (never logged)
    body: bytes
    base: str  # http://127.0.0.1:PORT

    def arg(self, name: str, default: str | None = None) -> str | None:
        """Return the first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default

    @property
    def token(self) -> str | None:
        """Return the bearer/token credential sent, or None."""
        auth = self.headers.get("authorization", "")
        parts = auth.split(None, 1)
        if len(parts) == 2 and parts[0].lower() in ("bearer", "token") and parts[1].strip():
            return parts[1].strip()
        return None


@dataclass(slots=True)
class Response:
    """What a handler sends back."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: object, status: int = 200, **headers: str) -> Response:
        """Return a JSON response."""
        body = json.dumps(payload, ensure_ascii=False).encode()
        return cls(status, body, {"Content-Type": "application/json; charset=utf-8", **headers})

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain") -> Response:
        """Return a text (or HTML) response."""
        return cls(status, text.encode(), {"Content-Type": f"{content_type}; charset=utf-8"})


@dataclass(slots=True)
class RequestRecord:
    """One line of the request log (no credential values, only whether one was sent)."""

    source: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    had_token: bool
    status: int | None = None  # None: no response (reset) or still blocked
    fault: str | None = None  # kind of fault applied, if any
    had_authorization: bool = False  # any Authorization header at all (any scheme)
    received: float = field(default_factory=time.monotonic)  # when it arrived (monotonic)


class RequestLog:
    """Thread-safe list of every request the fake received."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def all(self) -> list[RequestRecord]:
        """Return a copy of every record, oldest first."""
        with self._lock:
            return list(self._records)

    def find(
        self, *, source: str | None = None, path: str | None = None, method: str | None = None
    ) -> list[RequestRecord]:
        """Return records of ``source`` whose path matches the regex ``path`` (search)."""
        return [
            r
            for r in self.all()
            if (source is None or r.source == source)
            and (method is None or r.method == method)
            and (path is None or re.search(path, r.path))
        ]

    def count(self, **kw: str) -> int:
        """Return how many records ``find(**kw)`` returns."""
        return len(self.find(**kw))

    def clear(self) -> None:
        """Forget every record (between two runs of one test)."""
        with self._lock:
            self._records.clear()

    def wait_for(
        self, predicate: Callable[[list[RequestRecord]], bool], timeout: float = 30.0
    ) -> None:
        """Poll until ``predicate(records)`` holds; raise AssertionError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not predicate(self.all()):
            if time.monotonic() > deadline:
                raise AssertionError(f"request log condition not met within {timeout}s")
            time.sleep(0.02)


# ---- faults ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Fault:
    """One injected misbehaviour: ``Fault(kind)``, or an answer built by the class methods.

    Kinds: ``status`` answers ``status`` with ``body`` and ``headers`` (``error``,
    ``html_error``, the rate limits); ``reset`` closes the connection (TCP RST) without any
    response; ``truncate`` sends the normal response's headers but only half its body, then
    closes; ``cut_json`` sends the first half of the normal body as a complete 200
    (Content-Length agrees); ``block`` holds the request until ``release`` is set (``arrived``
    is set on arrival).
    """

    kind: Literal["status", "reset", "truncate", "cut_json", "block"]
    status: int = 503
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def error(
        cls,
        status: int,
        body: str | bytes | object = b"",
        *,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        """Answer ``status`` with ``body`` (str/bytes as given, anything else as JSON)."""
        if isinstance(body, bytes):
            raw, ctype = body, content_type or "text/plain"
        elif isinstance(body, str):
            raw = body.encode()
            ctype = content_type or ("text/html" if body.lstrip().startswith("<") else "text/plain")
        else:
            raw, ctype = json.dumps(body).encode(), content_type or "application/json"
        return cls("status", status, raw, {"Content-Type": ctype, **(headers or {})})

    @classmethod
    def html_error(cls, status: int = 503, **headers: str) -> Fault:
        """Answer ``status`` with the HTML error page a CDN or proxy sends."""
        page = (
            f"<html><head><title>{status} Service Unavailable</title></head><body>"
            f"<h1>Error {status}</h1><p>Backend is unhealthy</p><hr><p>Varnish cache</p>"
            "</body></html>"
        )
        return cls.error(status, page, content_type="text/html", headers=headers)

    @classmethod
    def rate_limited(cls, *, status: int = 403, reset_in: int = 3600) -> Fault:
        """GitHub's primary limit answer: remaining 0, reset in ``reset_in`` s."""
        reset = int(time.time()) + reset_in
        return cls.error(
            status,
            {
                "message": "API rate limit exceeded for user ID 1.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                "status": str(status),
            },
            headers={
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-used": "5000",
                "x-ratelimit-reset": str(reset),
                "x-ratelimit-resource": "core",
            },
        )

    @classmethod
    def secondary_rate_limit(cls, *, status: int = 403, retry_after: int | None = 1) -> Fault:
        """GitHub's secondary (abuse) limit answer, with ``retry-after`` when given."""
        headers = {} if retry_after is None else {"retry-after": str(retry_after)}
        return cls.error(
            status,
            {
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes "
                "before you try again. If you reach out to GitHub Support for help, please "
                "include the request ID.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                "status": str(status),
            },
            headers=headers,
        )


@dataclass(slots=True)
class _Rule:
    pattern: re.Pattern[str]
    fault: Fault
    source: str | None
    method: str | None
    times: int | None  # None: forever


class FaultRegistry:
    """Faults queued per (source, method, path regex); each matching request takes one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []

    def add(
        self,
        pattern: str,
        fault: Fault,
        *,
        source: str | None = None,
        method: str | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Queue ``fault`` for the next ``times`` requests whose path+query matches ``pattern``.

        ``pattern`` is searched (``re.search``) in ``path`` or ``path?query``; ``times=None``
        keeps the fault forever (a permanently broken endpoint). Returns ``fault``.
        """
        if source is not None and source not in SOURCES:
            raise ValueError(f"unknown source {source!r}")
        with self._lock:
            self._rules.append(_Rule(re.compile(pattern), fault, source, method, times))
        return fault

    def down(self, source: str, fault: Fault | None = None, pattern: str = "") -> Fault:
        """Make every request to ``source`` (matching ``pattern``) fail, 503 by default."""
        return self.add(pattern, fault or Fault.html_error(503), source=source, times=None)

    def take(self, source: str, method: str, target: str) -> Fault | None:
        """Return (and consume one use of) the first fault matching this request."""
        path = target.split("?", 1)[0]
        with self._lock:
            for rule in self._rules:
                if rule.source not in (None, source) or rule.method not in (None, method):
                    continue
                if not (rule.pattern.search(path) or rule.pattern.search(target)):
                    continue
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
                return rule.fault
        return None

    def pending(self) -> int:
        """Return how many finite fault uses are still queued (permanent ones not counted)."""
        with self._lock:
            return sum(r.times for r in self._rules if r.times is not None)

    def clear(self) -> None:
        """Drop every queued fault and release every blocked request."""
        with self._lock:
            for rule in self._rules:
                rule.fault.release.set()
            self._rules.clear()


def iter_sundays(last: date, n: int) -> Iterator[date]:
    """Yield ``n`` Sundays ending at the Sunday on or before ``last``, newest first."""
    sunday = last - timedelta(days=(last.weekday() + 1) % 7)
    for i in range(n):
        yield sunday - timedelta(weeks=i)
