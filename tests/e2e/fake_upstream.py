"""A loopback fake of every upstream tracker talks to, with switchable fault injection.

One ``ThreadingHTTPServer`` per upstream (GitHub REST + GraphQL, PyPI JSON, pypistats, ClickHouse
HTTP, Apache archive, Algolia's HN Search, Stack Exchange), each bound to 127.0.0.1 on a random port and served from a background
thread. Every server reads an in-memory data model that the test fills in, so a test knows the
exact rows `tracker collect` must store. Shapes follow the upstream APIs' documented answers and
the recorded fixtures under tests/fixtures/.

Typical use (the ``fake`` fixture in conftest.py starts and stops it)::

    fake.pypi.add_project("sacred", [PypiVersion("0.8.7", at("2024-11-26T07:16:52Z"))])
    fake.faults.add(r"^/pypi/sacred/json$", Fault.error(503), source="pypi")
    env = fake.env()            # TRACKER_*_URL pointing at the servers
    ...
    assert fake.log.count(source="pypi", path="/pypi/sacred/json") == 2

Faults are consumed one per matching request, in the order they were added (``times=None``
makes a fault permanent). A ``Fault.block()`` holds the response until the test sets its
``release`` Event and tells the test it arrived through ``arrived``: no sleeps needed.

The fake never stores or echoes an Authorization value: the request log keeps only
``had_token``.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "ApacheEntry",
    "FakeUpstream",
    "Fault",
    "GhRelease",
    "GhRepo",
    "HnPost",
    "HnStory",
    "PypiVersion",
    "RequestRecord",
    "Response",
    "StarWeek",
    "at",
]

SOURCES = ("github", "pypi", "pypistats", "clickpy", "apache", "hn", "stackoverflow")
_LOGGED_HEADERS = (
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


def _iso_z(value: datetime) -> str:
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
    """One injected misbehaviour. Build with the class methods."""

    kind: str  # status | reset | truncate | cut_json | block
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
    def reset(cls) -> Fault:
        """Close the connection (TCP RST) without any response."""
        return cls("reset")

    @classmethod
    def truncate(cls) -> Fault:
        """Send the normal response's headers but only half its body, then close."""
        return cls("truncate")

    @classmethod
    def cut_json(cls) -> Fault:
        """Send the first half of the normal body as a complete 200 (Content-Length agrees)."""
        return cls("cut_json")

    @classmethod
    def block(cls) -> Fault:
        """Hold the request until ``release`` is set (``arrived`` is set on arrival)."""
        return cls("block")

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


# ---- PyPI ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PypiVersion:
    """One version of a fake PyPI project.

    ``uploaded`` is the earliest file's upload time (what tracker stores as released_at);
    ``files`` files are generated, the others uploaded a few seconds later and listed first.
    ``files=0`` gives an empty file list (tracker skips the version).
    """

    version: str
    uploaded: datetime | None
    yanked: bool = False
    files: int = 2


class PypiEmulator:
    """``GET /pypi/<name>/json`` in the real payload shape, with ETag/304, and the Simple API
    (``GET /simple/<name>/``: PEP 691 JSON when asked for it, else a PEP 503 HTML page)."""

    SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"

    def __init__(self) -> None:
        self.projects: dict[str, tuple[str, list[PypiVersion]]] = {}
        self.etags = True  # send ETag and honour If-None-Match
        # False: the JSON API leaves out the deprecated `releases` key (and `urls`)
        self.releases_key = True

    @staticmethod
    def normalize(name: str) -> str:
        """Return the PEP 503 form of ``name``."""
        return re.sub(r"[-_.]+", "-", name).lower()

    def add_project(self, name: str, versions: Iterable[PypiVersion]) -> None:
        """Add (or replace) project ``name`` (display name as given) with ``versions``."""
        self.projects[self.normalize(name)] = (name, list(versions))

    def versions(self, name: str) -> list[PypiVersion]:
        """Return the versions of project ``name``."""
        return self.projects[self.normalize(name)][1]

    def payload(self, name: str) -> dict[str, object]:
        """Return the JSON document served for ``name``."""
        display, versions = self.projects[self.normalize(name)]
        releases: dict[str, list[dict[str, object]]] = {}
        for v in versions:
            files: list[dict[str, object]] = []
            for i in range(v.files):
                # the first listed file is the later one: the earliest is not always first
                uploaded = v.uploaded + timedelta(seconds=v.files - 1 - i) if v.uploaded else None
                files.append(self._file(display, v, i, uploaded))
            releases[v.version] = files
        latest = versions[-1].version if versions else ""
        document: dict[str, object] = {
            "info": {
                "name": display,
                "version": latest,
                "summary": f"{display} (fake)",
                "project_urls": {"Homepage": f"https://example.invalid/{display}"},
                "requires_python": ">=3.8",
                "yanked": False,
            },
            "last_serial": 1,
            "releases": releases,
            "urls": releases.get(latest, []),
            "vulnerabilities": [],
        }
        if not self.releases_key:
            del document["releases"], document["urls"]
        return document

    def simple(self, name: str) -> dict[str, object]:
        """Return the Simple API page of ``name`` in JSON (PEP 691, api-version 1.1)."""
        display, versions = self.projects[self.normalize(name)]
        files: list[dict[str, object]] = []
        for v in versions:
            for i in range(v.files):
                uploaded = v.uploaded + timedelta(seconds=v.files - 1 - i) if v.uploaded else None
                legacy = self._file(display, v, i, uploaded)
                file: dict[str, object] = {
                    "filename": legacy["filename"],
                    "hashes": {"sha256": cast(dict[str, str], legacy["digests"])["sha256"]},
                    "requires-python": ">=3.8",
                    "size": legacy["size"],
                    "url": legacy["url"],
                    # PEP 691: false, or the reason string (true when no reason was given)
                    "yanked": "broken" if v.yanked else False,
                }
                if uploaded:  # PEP 700: optional
                    file["upload-time"] = uploaded.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                files.append(file)
        return {
            "meta": {"api-version": "1.1", "_last-serial": "1"},
            "name": self.normalize(display),
            "files": sorted(files, key=lambda f: str(f["filename"])),
            "versions": sorted(v.version for v in versions),
        }

    @staticmethod
    def _file(name: str, v: PypiVersion, i: int, uploaded: datetime | None) -> dict[str, object]:
        digest = hashlib.sha256(f"{name}{v.version}{i}".encode()).hexdigest()
        sdist = i == v.files - 1
        return {
            "comment_text": "",
            "digests": {"md5": digest[:32], "sha256": digest},
            "filename": f"{name}-{v.version}.tar.gz"
            if sdist
            else f"{name}-{v.version}-py3-none-any.whl",
            "packagetype": "sdist" if sdist else "bdist_wheel",
            "python_version": "source" if sdist else "py3",
            "requires_python": ">=3.8",
            "size": 1000 + i,
            "upload_time": uploaded.strftime("%Y-%m-%dT%H:%M:%S") if uploaded else None,
            "upload_time_iso_8601": uploaded.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            if uploaded
            else None,
            "url": f"https://files.example.invalid/{name}/{v.version}/{i}",
            "yanked": v.yanked,
            "yanked_reason": "broken" if v.yanked else None,
        }

    def _simple(self, req: Request, name: str) -> Response:
        key = self.normalize(name)
        if key not in self.projects:
            return Response.text("<h1>404 Not Found</h1>", 404, "text/html")
        if self.SIMPLE_JSON in req.headers.get("accept", ""):
            body = json.dumps(self.simple(key)).encode()
            return Response(200, body, {"Content-Type": self.SIMPLE_JSON})
        links = "".join(
            f'<a href="{f["url"]}">{f["filename"]}</a><br/>'
            for f in cast(list[dict[str, object]], self.simple(key)["files"])
        )
        return Response.text(f"<html><body>{links}</body></html>", 200, "text/html")

    def handle(self, req: Request) -> Response:
        simple = re.fullmatch(r"/simple/([^/]+)/?", req.path)
        if req.method in ("GET", "HEAD") and simple:
            return self._simple(req, simple.group(1))
        match = re.fullmatch(r"/pypi/([^/]+)/json/?", req.path)
        if req.method not in ("GET", "HEAD") or not match:
            return Response.json({"message": "Not Found"}, 404)
        key = self.normalize(match.group(1))
        if key not in self.projects:
            return Response(404, b"", {"Content-Type": "text/plain"})
        response = Response.json(self.payload(key))
        if self.etags:
            etag = '"' + hashlib.sha256(response.body).hexdigest()[:20] + '"'
            response.headers["ETag"] = etag
            response.headers["Cache-Control"] = "max-age=900, public"
            if req.headers.get("if-none-match") == etag:
                return Response(304, b"", {"ETag": etag})
        return response


# ---- GitHub REST + GraphQL -------------------------------------------------------------------


@dataclass(slots=True)
class GhRelease:
    """One GitHub release (``published_at`` None for drafts)."""

    tag_name: str
    created_at: datetime
    published_at: datetime | None = None
    name: str | None = None
    draft: bool = False
    prerelease: bool = False


@dataclass(frozen=True, slots=True)
class StarWeek:
    """Stars added in one week starting Sunday 00:00 UTC, day by day (Sunday first)."""

    week: date
    days: tuple[int, int, int, int, int, int, int]

    @property
    def total(self) -> int:
        """Return the week's stars added."""
        return sum(self.days)


@dataclass(slots=True)
class GhRepo:
    """One fake repository; ``full_name`` is the current name, ``id`` the stable key."""

    id: int
    full_name: str
    description: str | None = None
    created_at: datetime = field(default_factory=lambda: at("2015-01-01T00:00:00Z"))
    pushed_at: datetime | None = field(default_factory=lambda: at("2026-01-01T00:00:00Z"))
    stargazers_count: int = 0
    forks_count: int = 0
    open_issues_count: int = 0
    subscribers_count: int = 0
    open_pull_requests: int = 0  # part of open_issues_count (REST counts both together)
    archived: bool = False
    releases: list[GhRelease] = field(default_factory=list)  # any order; served newest first
    star_weeks: list[StarWeek] = field(default_factory=list)  # any order; served newest first
    old_names: list[str] = field(default_factory=list)

    def rest(self, base: str) -> dict[str, object]:
        """Return the ``GET /repos/{o}/{r}`` document."""
        owner = self.full_name.split("/")[0]
        return {
            "id": self.id,
            "node_id": f"R_{self.id}",
            "name": self.full_name.split("/")[1],
            "full_name": self.full_name,
            "private": False,
            "owner": {"login": owner, "type": "Organization"},
            "html_url": f"https://github.com/{self.full_name}",
            "description": self.description,
            "fork": False,
            "url": f"{base}/repos/{self.full_name}",
            "created_at": _iso_z(self.created_at),
            "updated_at": _iso_z(self.pushed_at or self.created_at),
            "pushed_at": _iso_z(self.pushed_at) if self.pushed_at else None,
            "stargazers_count": self.stargazers_count,
            "watchers_count": self.stargazers_count,
            "forks_count": self.forks_count,
            "open_issues_count": self.open_issues_count,
            "subscribers_count": self.subscribers_count,
            "archived": self.archived,
            "disabled": False,
            "default_branch": "main",
        }

    def sorted_releases(self) -> list[GhRelease]:
        """Return releases newest first (by created_at)."""
        return sorted(self.releases, key=lambda r: r.created_at, reverse=True)


@dataclass(slots=True)
class Budget:
    """A GitHub rate-limit resource that counts down."""

    limit: int
    remaining: int
    reset: int = field(default_factory=lambda: int(time.time()) + 3600)

    def headers(self, resource: str) -> dict[str, str]:
        """Return the x-ratelimit-* headers."""
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(max(0, self.remaining)),
            "x-ratelimit-used": str(self.limit - max(0, self.remaining)),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-resource": resource,
        }


_GQL_ALIAS = re.compile(
    r"(\w+)\s*:\s*repository\s*\(\s*owner\s*:\s*(\"[^\"]*\"|\$\w+)\s*,\s*name\s*:\s*(\"[^\"]*\"|\$\w+)\s*\)"
)
_GQL_FIRST = re.compile(r"releases\s*\(\s*first\s*:\s*(\d+|\$\w+)")
_GQL_AFTER = re.compile(r"releases\s*\([^)]*\bafter\s*:\s*(\"[^\"]*\"|\$\w+)")
_GQL_PLAIN = re.compile(
    r"(?<![\w:])\s(repository)\s*\(\s*owner\s*:\s*(\"[^\"]*\"|\$\w+)\s*,\s*name\s*:\s*(\"[^\"]*\"|\$\w+)\s*\)"
)


class GithubEmulator:
    """REST (``/repos``, ``/repositories``, releases, star history, rate_limit) and GraphQL.

    Served at the root (public API style) and under ``/api/v3`` + ``/api/graphql`` (Enterprise).
    """

    def __init__(self) -> None:
        self.repos: list[GhRepo] = []
        self.core = Budget(5000, 5000)  # with a token
        self.core_anonymous = Budget(60, 60)  # without one
        self.graphql = Budget(5000, 5000)
        self.limit_status = 403  # status of an exhausted primary limit (403 or 429)
        self.valid_tokens: set[str] | None = None  # None: any token is accepted
        self.star_per_page_max = 30
        # answer the star history's real last page with a Link rel="next" to one more page that
        # is an empty list (the endpoint's documented end marker)
        self.star_empty_last_page = False
        self._lock = threading.Lock()
        self._next_id = 1000

    def add_repo(self, full_name: str, **fields: Any) -> GhRepo:
        """Add a repository (fields as in GhRepo; ``id`` is assigned when not given)."""
        with self._lock:
            if "id" not in fields:
                self._next_id += 1
                fields["id"] = self._next_id
        repo = GhRepo(full_name=full_name, **fields)
        self.repos.append(repo)
        return repo

    def rename(self, old: str, new: str) -> GhRepo:
        """Rename ``old`` to ``new``: the old name answers 301 to /repositories/{id}."""
        repo = self._by_name(old)
        if repo is None:
            raise KeyError(old)
        repo.old_names.append(repo.full_name)
        repo.full_name = new
        return repo

    def _by_name(self, name: str) -> GhRepo | None:
        for repo in self.repos:
            if repo.full_name.lower() == name.lower():
                return repo
        return None

    def _by_old_name(self, name: str) -> GhRepo | None:
        for repo in self.repos:
            if name.lower() in (n.lower() for n in repo.old_names):
                return repo
        return None

    def _by_id(self, repo_id: int) -> GhRepo | None:
        return next((r for r in self.repos if r.id == repo_id), None)

    @staticmethod
    def _error(status: int, message: str, **headers: str) -> Response:
        return Response.json(
            {
                "message": message,
                "documentation_url": "https://docs.github.com/rest",
                "status": str(status),
            },
            status,
            **headers,
        )

    def _budget(self, req: Request, graphql: bool) -> Budget:
        if graphql:
            return self.graphql
        return self.core if req.token else self.core_anonymous

    def handle(self, req: Request) -> Response:
        path = req.path
        prefix = ""
        if path.startswith("/api/v3/") or path == "/api/v3":
            prefix, path = "/api/v3", path[len("/api/v3") :] or "/"
        if path in ("/graphql", "/api/graphql"):
            return self._graphql(req)
        if req.token and self.valid_tokens is not None and req.token not in self.valid_tokens:
            return self._error(401, "Bad credentials")
        budget = self._budget(req, graphql=False)
        if path.rstrip("/") == "/rate_limit":  # does not count against the limit
            return Response.json(
                {
                    "resources": {
                        "core": self._limit_doc(budget),
                        "graphql": self._limit_doc(self.graphql),
                    },
                    "rate": self._limit_doc(budget),
                },
                **budget.headers("core"),
            )
        with self._lock:
            if budget.remaining <= 0:
                return self._error(
                    self.limit_status,
                    "API rate limit exceeded for user ID 1."
                    if req.token
                    else "API rate limit exceeded for 127.0.0.1. (But here's the good news: "
                    "Authenticated requests get a higher rate limit.)",
                    **budget.headers("core"),
                )
            budget.remaining -= 1
        response = self._rest(req, path, req.base + prefix)
        if response.status == 304 and req.token:
            with self._lock:  # an authorised 304 does not count
                budget.remaining += 1
        response.headers.update(budget.headers("core"))
        return response

    @staticmethod
    def _limit_doc(budget: Budget) -> dict[str, int]:
        return {
            "limit": budget.limit,
            "remaining": max(0, budget.remaining),
            "used": budget.limit - max(0, budget.remaining),
            "reset": budget.reset,
        }

    def _rest(self, req: Request, path: str, base: str) -> Response:
        if req.method not in ("GET", "HEAD"):
            return self._error(404, "Not Found")
        match = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path)
        by_id = re.fullmatch(r"/repositories/(\d+)(/.*)?", path)
        if match:
            name, sub = f"{match.group(1)}/{match.group(2)}", match.group(3) or ""
            repo = self._by_name(name)
            if repo is None:
                moved = self._by_old_name(name)
                if moved is not None:
                    location = f"{base}/repositories/{moved.id}{sub}"
                    if req.query:
                        location += "?" + urlsplit(f"x://x/?{_qs(req.query)}").query
                    return Response.json(
                        {
                            "message": "Moved Permanently",
                            "url": location,
                            "documentation_url": "https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects",
                        },
                        301,
                        Location=location,
                    )
                return self._error(404, "Not Found")
            self_path = f"{base}/repos/{repo.full_name}"
        elif by_id:
            repo = self._by_id(int(by_id.group(1)))
            sub = by_id.group(2) or ""
            if repo is None:
                return self._error(404, "Not Found")
            self_path = f"{base}/repositories/{repo.id}"
        else:
            return self._error(404, "Not Found")
        if sub in ("", "/"):
            response = Response.json(repo.rest(base))
            etag = 'W/"' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
            response.headers["ETag"] = etag
            response.headers["Last-Modified"] = format_datetime(
                repo.pushed_at or repo.created_at, usegmt=True
            )
            if req.headers.get("if-none-match") == etag:
                return Response(304, b"", {"ETag": etag})
            return response
        if sub.rstrip("/") == "/releases":
            docs = [self._release_doc(r) for r in repo.sorted_releases()]
            return self._paged(req, docs, f"{self_path}/releases", default=30, ceiling=100)
        if sub.rstrip("/") == "/stargazers/history":
            weeks = sorted(repo.star_weeks, key=lambda w: w.week, reverse=True)
            docs = [
                {
                    "week": int(
                        datetime(w.week.year, w.week.month, w.week.day, tzinfo=UTC).timestamp()
                    ),
                    "total": w.total,
                    "days": list(w.days),
                }
                for w in weeks
            ]
            ceiling = self.star_per_page_max
            return self._paged(
                req,
                docs,
                f"{self_path}/stargazers/history",
                default=ceiling,
                ceiling=ceiling,
                empty_last=self.star_empty_last_page,
            )
        return self._error(404, "Not Found")

    @staticmethod
    def _release_doc(r: GhRelease) -> dict[str, object]:
        return {
            "tag_name": r.tag_name,
            "name": r.name,
            "draft": r.draft,
            "prerelease": r.prerelease,
            "created_at": _iso_z(r.created_at),
            "published_at": _iso_z(r.published_at) if r.published_at else None,
        }

    @staticmethod
    def _paged(
        req: Request,
        docs: Sequence[object],
        url: str,
        *,
        default: int,
        ceiling: int,
        empty_last: bool = False,
    ) -> Response:
        try:
            per_page = min(ceiling, max(1, int(req.arg("per_page") or default)))
            page = max(1, int(req.arg("page") or 1))
        except ValueError:
            return GithubEmulator._error(422, "Invalid pagination parameter")
        last = max(1, -(-len(docs) // per_page)) + (1 if empty_last and docs else 0)
        chunk = list(docs[(page - 1) * per_page : page * per_page])
        links = []
        if page < last:
            links.append(f'<{url}?per_page={per_page}&page={page + 1}>; rel="next"')
            links.append(f'<{url}?per_page={per_page}&page={last}>; rel="last"')
        if page > 1:
            links.append(f'<{url}?per_page={per_page}&page=1>; rel="first"')
            links.append(f'<{url}?per_page={per_page}&page={min(page - 1, last)}>; rel="prev"')
        response = Response.json(chunk)
        # list pages carry an ETag too, and answer 304 to a matching If-None-Match
        etag = 'W/"' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
        if req.headers.get("if-none-match") == etag:
            return Response(304, b"", {"ETag": etag})
        response.headers["ETag"] = etag
        if links:
            response.headers["Link"] = ", ".join(links)
        return response

    def _graphql(self, req: Request) -> Response:
        if req.method != "POST":
            return self._error(404, "Not Found")
        if not req.token:
            return self._error(401, "This endpoint requires you to be authenticated.")
        if self.valid_tokens is not None and req.token not in self.valid_tokens:
            return self._error(401, "Bad credentials")
        try:
            doc = json.loads(req.body)
            query = str(doc["query"])
            variables = doc.get("variables") or {}
        except (ValueError, KeyError, TypeError):
            return Response.json({"message": "Problems parsing JSON"}, 400)
        with self._lock:
            if self.graphql.remaining <= 0:
                return Response.json(
                    {
                        "errors": [
                            {
                                "type": "RATE_LIMITED",
                                "message": "API rate limit exceeded for user ID 1.",
                            }
                        ]
                    },
                    200,
                    **self.graphql.headers("graphql"),
                )
            self.graphql.remaining -= 1

        def resolve(token: str) -> str:
            if token.startswith("$"):
                return str(variables.get(token[1:], ""))
            return token.strip('"')

        first_match = _GQL_FIRST.search(query)
        first = 10
        if first_match:
            first = int(resolve(first_match.group(1)) or 10)
        # the release cursor is the index of the next release (newest first), as text
        after_match = _GQL_AFTER.search(query)
        after_text = resolve(after_match.group(1)) if after_match else ""
        offset = int(after_text) if after_text.isdigit() else 0
        data: dict[str, object] = {}
        errors: list[dict[str, object]] = []
        aliases = _GQL_ALIAS.findall(query) + _GQL_PLAIN.findall(query)
        for alias, owner_tok, name_tok in aliases:
            name = f"{resolve(owner_tok)}/{resolve(name_tok)}"
            repo = self._by_name(name) or self._by_old_name(name)
            if repo is None:
                data[alias] = None
                errors.append(
                    {
                        "type": "NOT_FOUND",
                        "path": [alias],
                        "locations": [{"line": 1, "column": 1}],
                        "message": f"Could not resolve to a Repository with the name '{name}'.",
                    }
                )
                continue
            releases = repo.sorted_releases()
            data[alias] = {
                "nameWithOwner": repo.full_name,
                "databaseId": repo.id,
                "stargazerCount": repo.stargazers_count,
                "forkCount": repo.forks_count,
                "isArchived": repo.archived,
                "pushedAt": _iso_z(repo.pushed_at) if repo.pushed_at else None,
                "createdAt": _iso_z(repo.created_at),
                "description": repo.description,
                "watchers": {"totalCount": repo.subscribers_count},
                "issues": {"totalCount": repo.open_issues_count - repo.open_pull_requests},
                "pullRequests": {"totalCount": repo.open_pull_requests},
                "releases": {
                    "totalCount": len(releases),
                    "pageInfo": {
                        "hasNextPage": offset + first < len(releases),
                        "endCursor": str(offset + first),
                    },
                    "nodes": [
                        {
                            "tagName": r.tag_name,
                            "name": r.name,
                            "publishedAt": _iso_z(r.published_at) if r.published_at else None,
                            "createdAt": _iso_z(r.created_at),
                            "isPrerelease": r.prerelease,
                            "isDraft": r.draft,
                        }
                        for r in releases[offset : offset + first]
                    ],
                },
            }
        if "rateLimit" in query:
            data["rateLimit"] = {
                "cost": 1,
                "remaining": max(0, self.graphql.remaining),
                "resetAt": _iso_z(datetime.fromtimestamp(self.graphql.reset, UTC)),
                "limit": self.graphql.limit,
            }
        payload: dict[str, object] = {"data": data}
        if errors:
            payload["errors"] = errors
        return Response.json(payload, 200, **self.graphql.headers("graphql"))


def _qs(query: Mapping[str, list[str]]) -> str:
    return "&".join(f"{k}={v}" for k, values in query.items() for v in values)


# ---- pypistats -------------------------------------------------------------------------------


class PypistatsEmulator:
    """``/api/packages/<name>/recent`` and ``/overall`` with a per-minute budget (429 + HTML)."""

    def __init__(self) -> None:
        self.downloads: dict[str, dict[date, int]] = {}  # without mirrors
        self.mirror_extra = 7  # with_mirrors = without + this, per day
        self.per_minute: int | None = None  # None: no limit
        self._hits: list[float] = []
        self._lock = threading.Lock()

    def add_package(self, name: str, daily: Mapping[date, int]) -> None:
        """Add package ``name`` with daily downloads (without mirrors)."""
        self.downloads[PypiEmulator.normalize(name)] = dict(daily)

    def handle(self, req: Request) -> Response:
        if self.per_minute is not None:
            with self._lock:
                now = time.monotonic()
                self._hits = [t for t in self._hits if now - t < 60.0]
                if len(self._hits) >= self.per_minute:
                    return Response.text(
                        "<html><head><title>429 Too Many Requests</title></head><body>"
                        "<h1>Too Many Requests</h1><p>Please slow down.</p></body></html>",
                        429,
                        "text/html",
                    )
                self._hits.append(now)
        match = re.fullmatch(r"/api/packages/([^/]+)/(recent|overall)/?", req.path)
        if req.method != "GET" or not match:
            return Response.text("<h1>Not Found</h1>", 404, "text/html")
        name, kind = PypiEmulator.normalize(match.group(1)), match.group(2)
        if name not in self.downloads:
            return Response.text("<h1>Not Found</h1>", 404, "text/html")
        days = sorted(self.downloads[name].items())
        if kind == "recent":
            last = days[-1][0] if days else None

            def window(n: int) -> int:
                if last is None:
                    return 0
                return sum(v for d, v in days if (last - d).days < n)

            return Response.json(
                {
                    "data": {
                        "last_day": window(1),
                        "last_week": window(7),
                        "last_month": window(30),
                    },
                    "package": name,
                    "type": "recent_downloads",
                }
            )
        mirrors = req.arg("mirrors")
        rows: list[dict[str, object]] = []
        if mirrors in (None, "false"):
            rows += [
                {"category": "without_mirrors", "date": d.isoformat(), "downloads": v}
                for d, v in days
            ]
        if mirrors in (None, "true"):
            rows += [
                {
                    "category": "with_mirrors",
                    "date": d.isoformat(),
                    "downloads": v + self.mirror_extra,
                }
                for d, v in days
            ]
        return Response.json({"data": rows, "package": name, "type": "overall_downloads"})


# ---- ClickHouse HTTP (ClickPy) ---------------------------------------------------------------


class ClickhouseEmulator:
    """ClickHouse's HTTP interface for ``pypi.pypi_downloads_per_day`` (JSONEachRow or TSV)."""

    TABLE = "pypi.pypi_downloads_per_day"

    def __init__(self) -> None:
        self.downloads: dict[str, dict[date, int]] = {}
        self.users = {"play", "demo", "default"}
        # after this many rows of a 200 answer, write a ClickHouse exception and stop (None: off)
        self.error_after_rows: int | None = None
        self.error_projects: set[str] | None = None  # None: error_after_rows hits every project
        self.queries: list[str] = []

    def add_project(self, name: str, daily: Mapping[date, int]) -> None:
        """Add project ``name`` (stored as given: ClickPy keys on the normalised name)."""
        self.downloads[name] = dict(daily)

    @staticmethod
    def _exception(code: int, name: str, text: str) -> str:
        return f"Code: {code}. DB::Exception: {text}. ({name}) (version 25.8.1.1)\n"

    def handle(self, req: Request) -> Response:
        if req.method == "POST":
            sql = req.body.decode("utf-8", "replace")
            if req.arg("query"):
                sql = (req.arg("query") or "") + "\n" + sql
        elif req.method == "GET":
            sql = req.arg("query") or ""
        else:
            return Response.text("Code: 0. DB::Exception: method not allowed", 405)
        self.queries.append(sql)
        user = req.arg("user") or req.headers.get("x-clickhouse-user") or "default"
        if user not in self.users:
            refused = Response.text(
                self._exception(516, "AUTHENTICATION_FAILED", f"{user}: Authentication failed"),
                403,
            )
            refused.headers["X-ClickHouse-Exception-Code"] = "516"
            return refused
        if not sql.strip():
            return Response.text("Ok.\n")
        if self.TABLE not in sql:
            if re.search(r"\bFROM\s+pypi\.", sql, re.I):
                table = re.search(r"\bFROM\s+(pypi\.\w+)", sql, re.I)
                return Response.text(
                    self._exception(
                        60,
                        "UNKNOWN_TABLE",
                        f"Unknown table expression identifier '{table.group(1) if table else '?'}'",
                    ),
                    404,
                )
            return Response.text(
                self._exception(62, "SYNTAX_ERROR", "Syntax error: the fake knows one query"), 400
            )
        params = {k[len("param_") :]: v[0] for k, v in req.query.items() if k.startswith("param_")}
        project = next((params[k] for k in ("name", "project", "package") if k in params), None)
        if project is None:
            literal = re.search(r"project\s*=\s*'([^']*)'", sql)
            project = literal.group(1) if literal else None
        if project is None:
            return Response.text(
                self._exception(456, "UNKNOWN_QUERY_PARAMETER", "Substitution `name` is not set"),
                400,
            )
        since_text = next((params[k] for k in ("since", "start", "from") if k in params), None)
        strict = bool(re.search(r"date\s*>\s*\{", sql))  # `date > {since:Date}` vs `>=`
        until_text = params.get("until")
        # the count column is named as the SQL aliases it: `sum(count) AS downloads`
        alias = re.search(r"sum\s*\(\s*count\s*\)\s+AS\s+(\w+)", sql, re.I)
        column = alias.group(1) if alias else "count"
        try:
            since = date.fromisoformat(since_text) if since_text else None
        except ValueError:
            return Response.text(
                self._exception(
                    457, "BAD_QUERY_PARAMETER", f"Value {since_text} cannot be parsed as Date"
                ),
                400,
            )
        days = sorted(self.downloads.get(project, {}).items())
        if since is not None:
            days = [(d, v) for d, v in days if (d > since if strict else d >= since)]
        if until_text and re.search(r"date\s*<\s*\{until", sql):
            until = date.fromisoformat(until_text)
            days = [(d, v) for d, v in days if d < until]
        fmt = re.search(r"FORMAT\s+(\w+)", sql, re.I)
        lines: list[str] = []
        for d, v in days:
            if fmt and fmt.group(1) == "JSONEachRow":
                # 64-bit integers are quoted (output_format_json_quote_64bit_integers=1)
                lines.append(json.dumps({"date": d.isoformat(), column: str(v)}))
            else:
                lines.append(f"{d.isoformat()}\t{v}")
        failing = self.error_projects is None or project in self.error_projects
        if self.error_after_rows is not None and failing:
            body = "\n".join(lines[: self.error_after_rows]) + "\n"
            body += self._exception(
                241, "MEMORY_LIMIT_EXCEEDED", "Memory limit (for query) exceeded"
            )
            return Response(200, body.encode(), {"Content-Type": "application/x-ndjson"})
        body = "".join(line + "\n" for line in lines)
        ctype = "application/x-ndjson" if fmt else "text/tab-separated-values"
        return Response(
            200,
            body.encode(),
            {
                "Content-Type": f"{ctype}; charset=UTF-8",
                "X-ClickHouse-Format": fmt.group(1) if fmt else "TabSeparated",
            },
        )


# ---- Apache archive --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApacheEntry:
    """One line of an autoindex page: a directory (name ends in '/') or a file."""

    name: str
    modified: datetime
    size: str = "-"


class ApacheEmulator:
    """httpd autoindex pages under ``/dist/<project>/`` (HTMLTable with icons, or ``<pre>``)."""

    def __init__(self) -> None:
        self.projects: dict[str, list[ApacheEntry]] = {}
        self.style = "table"  # or "pre"

    def add_project(
        self,
        project: str,
        releases: Mapping[str, datetime],
        files: Mapping[str, datetime] | None = None,
    ) -> None:
        """Add ``project``: release dirs (``'5.2.1'`` or ``'oozie-3.3.2'``) and plain files."""
        entries = [ApacheEntry(name.rstrip("/") + "/", when) for name, when in releases.items()]
        entries += [ApacheEntry(name, when, "14K") for name, when in (files or {}).items()]
        self.projects[project] = sorted(entries, key=lambda e: e.name)

    def handle(self, req: Request) -> Response:
        match = re.fullmatch(r"/dist/([^/]+)(/?)", req.path)
        if req.method not in ("GET", "HEAD") or not match or match.group(1) not in self.projects:
            return Response.text(
                '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>'
                "<title>404 Not Found</title></head><body><h1>Not Found</h1><p>The requested URL "
                "was not found on this server.</p></body></html>\n",
                404,
                "text/html",
            )
        project = match.group(1)
        if not match.group(2):  # httpd adds the slash with a redirect
            return Response(
                301, b"", {"Location": f"{req.base}/dist/{project}/", "Content-Type": "text/html"}
            )
        return Response.text(self.page(project), 200, "text/html")

    def page(self, project: str) -> str:
        """Return the autoindex HTML of ``project``."""
        title = f"Index of /dist/{project}"
        entries = self.projects[project]
        if self.style == "pre":
            rows = [
                '<img src="/icons/back.gif" alt="[PARENTDIR]"> <a href="/dist/">Parent Directory</a>'
                "                             -   "
            ]
            for e in entries:
                icon = "folder" if e.name.endswith("/") else "text"
                rows.append(
                    f'<img src="/icons/{icon}.gif" alt="[{"DIR" if icon == "folder" else "TXT"}]"> '
                    f'<a href="{html.escape(e.name)}">{html.escape(e.name)}</a>'
                    f"{' ' * max(1, 24 - len(e.name))}{e.modified:%Y-%m-%d %H:%M}  {e.size:>4}  "
                )
            body = (
                '<pre><img src="/icons/blank.gif" alt="Icon "> <a href="?C=N;O=D">Name</a>'
                '                    <a href="?C=M;O=A">Last modified</a>      '
                '<a href="?C=S;O=A">Size</a>  <a href="?C=D;O=A">Description</a><hr>'
                + "\n".join(rows)
                + "\n<hr></pre>"
            )
        else:
            rows = [
                '<tr><td valign="top"><img src="/icons/back.gif" alt="[PARENTDIR]"></td>'
                '<td><a href="/dist/">Parent Directory</a></td><td>&nbsp;</td>'
                '<td align="right">  - </td><td>&nbsp;</td></tr>'
            ]
            for e in entries:
                is_dir = e.name.endswith("/")
                icon, alt = ("folder", "[DIR]") if is_dir else ("text", "[TXT]")
                rows.append(
                    f'<tr><td valign="top"><img src="/icons/{icon}.gif" alt="{alt}"></td>'
                    f'<td><a href="{html.escape(e.name)}">{html.escape(e.name)}</a></td>'
                    f'<td align="right">{e.modified:%Y-%m-%d %H:%M}  </td>'
                    f'<td align="right">{e.size:>4} </td><td>&nbsp;</td></tr>'
                )
            body = (
                "<table>\n"
                '   <tr><th valign="top"><img src="/icons/blank.gif" alt="[ICO]"></th>'
                '<th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th>'
                '<th><a href="?C=S;O=A">Size</a></th><th><a href="?C=D;O=A">Description</a></th></tr>\n'
                '   <tr><th colspan="5"><hr></th></tr>\n'
                + "\n".join(rows)
                + '\n   <tr><th colspan="5"><hr></th></tr>\n</table>'
            )
        return (
            '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n<html>\n <head>\n'
            f"  <title>{title}</title>\n </head>\n <body>\n<h1>{title}</h1>\n{body}\n"
            "</body></html>\n"
        )


# ---- Hacker News (Algolia HN Search API) -----------------------------------------------------

_MONTH_NAMES = tuple(date(2001, m, 1).strftime("%B") for m in range(1, 13))


@dataclass(slots=True)
class HnPost:
    """One top-level comment of a thread; ``text`` None: deleted (author and text null)."""

    id: int
    text: str | None
    replies: list[str] = field(default_factory=list)
    dead: bool = False  # HN hides it; Algolia keeps the node without text


@dataclass(slots=True)
class HnStory:
    """One story of the account ``whoishiring`` (hiring threads hold posts)."""

    id: int
    title: str
    created_at: datetime
    posts: list[HnPost] = field(default_factory=list)

    @property
    def month(self) -> date:
        return date(self.created_at.year, self.created_at.month, 1)


class HnEmulator:
    """``/api/v1/search_by_date`` (tags, numericFilters on created_at_i, hitsPerPage, page; at most
    1,000 hits a query) and ``/api/v1/items/<id>`` (the whole tree) in Algolia's shapes."""

    MAX_HITS = 1000

    def __init__(self) -> None:
        self.stories: dict[int, HnStory] = {}
        self._next_id = 20_000_000
        self._lock = threading.Lock()

    def _new_id(self) -> int:
        with self._lock:
            self._next_id += 1000
            return self._next_id

    def add_month(self, month: date, posts: Iterable[str | None] = ()) -> HnStory:
        """Add the three stories of ``month`` (hiring, wants to be hired, freelancer) and return
        the hiring thread with ``posts`` (None: a deleted comment)."""
        name = f"{_MONTH_NAMES[month.month - 1]} {month.year}"
        created = datetime(month.year, month.month, 1, 16, 0, 7, tzinfo=UTC)
        hiring = HnStory(self._new_id(), f"Ask HN: Who is hiring? ({name})", created)
        others = (
            HnStory(hiring.id - 2, f"Ask HN: Who wants to be hired? ({name})", created),
            HnStory(hiring.id - 1, f"Ask HN: Freelancer? Seeking freelancer? ({name})", created),
        )
        for story in (hiring, *others):
            self.stories[story.id] = story
        for text in posts:
            self.add_post(hiring, text)
        return hiring

    def add_post(
        self, story: HnStory, text: str | None, *, replies: Sequence[str] = (), dead: bool = False
    ) -> HnPost:
        """Add a top-level comment to ``story`` (a thread growing after a first read)."""
        post = HnPost(story.id + 1 + len(story.posts), text, list(replies), dead)
        story.posts.append(post)
        return post

    def hiring(self, month: date) -> HnStory:
        """Return the hiring thread of ``month``."""
        return next(s for s in self.stories.values() if s.month == month and "hiring?" in s.title)

    def _hit(self, s: HnStory) -> dict[str, object]:
        return {
            "_highlightResult": {
                "title": {"matchLevel": "none", "matchedWords": [], "value": s.title}
            },
            "_tags": ["story", "author_whoishiring", f"story_{s.id}", "ask_hn"],
            "author": "whoishiring",
            "children": [p.id for p in s.posts],
            "created_at": _iso_z(s.created_at),
            "created_at_i": int(s.created_at.timestamp()),
            "num_comments": len(s.posts) + sum(len(p.replies) for p in s.posts),
            "objectID": str(s.id),
            "points": 300,
            "story_id": s.id,
            "title": s.title,
            "updated_at": _iso_z(s.created_at),
        }

    def _comment(
        self,
        cid: int,
        parent: int,
        story: HnStory,
        author: str | None,
        text: str | None,
        children: list[dict[str, object]],
    ) -> dict[str, object]:
        return {
            "author": author,
            "children": children,
            "created_at": _iso_z(story.created_at),
            "created_at_i": int(story.created_at.timestamp()),
            "id": cid,
            "options": [],
            "parent_id": parent,
            "points": None,
            "story_id": story.id,
            "text": text,
            "title": None,
            "type": "comment",
            "url": None,
        }

    def item(self, s: HnStory) -> dict[str, object]:
        """Return the ``/items/<id>`` tree of a story."""
        children = []
        for p in s.posts:
            replies = [
                self._comment(p.id * 10 + i, p.id, s, "replier", r, [])
                for i, r in enumerate(p.replies)
            ]
            removed = p.text is None or p.dead
            children.append(
                self._comment(
                    p.id,
                    s.id,
                    s,
                    None if removed else f"company{p.id}",
                    None if removed else p.text,
                    replies,
                )
            )
        return {
            "author": "whoishiring",
            "children": children,
            "created_at": _iso_z(s.created_at),
            "created_at_i": int(s.created_at.timestamp()),
            "id": s.id,
            "options": [],
            "parent_id": None,
            "points": 300,
            "story_id": s.id,
            "text": "Please state the location and include REMOTE for remote work.",
            "title": s.title,
            "type": "story",
            "url": None,
        }

    def handle(self, req: Request) -> Response:
        if req.method != "GET":
            return Response.json({"message": "Method not allowed", "status": 405}, 405)
        item = re.fullmatch(r"/api/v1/items/(\d+)", req.path)
        if item:
            story = self.stories.get(int(item.group(1)))
            if story is None:
                return Response.json({"status": 404, "error": "Not Found"}, 404)
            return Response.json(self.item(story))
        if req.path != "/api/v1/search_by_date":
            return Response.json({"message": "Not Found", "status": 404}, 404)
        tags = set((req.arg("tags") or "").split(","))
        stories = sorted(self.stories.values(), key=lambda s: (-s.created_at.timestamp(), -s.id))
        if not tags >= {"story", "author_whoishiring"}:
            stories = []
        for cond in (req.arg("numericFilters") or "").split(","):
            m = re.fullmatch(r"created_at_i(>=|<=|>|<|=)(\d+)", cond.strip())
            if cond.strip() and not m:
                return Response.json(
                    {"message": f"invalid numericFilters: {cond}", "status": 400}, 400
                )
            if m:
                op, value = m.group(1), int(m.group(2))
                stories = [s for s in stories if _COMPARE[op](s.created_at.timestamp(), value)]
        try:
            per_page = max(1, min(1000, int(req.arg("hitsPerPage") or 20)))
            page = max(0, int(req.arg("page") or 0))
        except ValueError:
            return Response.json({"message": "invalid hitsPerPage or page", "status": 400}, 400)
        reachable = stories[: self.MAX_HITS]  # paginationLimitedTo
        chunk = reachable[page * per_page : (page + 1) * per_page]
        return Response.json(
            {
                "exhaustive": {"nbHits": True, "typo": True},
                "exhaustiveNbHits": True,
                "hits": [self._hit(s) for s in chunk],
                "hitsPerPage": per_page,
                "nbHits": len(stories),
                "nbPages": -(-len(reachable) // per_page),
                "page": page,
                "params": "",
                "processingTimeMS": 1,
                "query": "",
            }
        )


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "=": lambda a, b: a == b,
}


# ---- Stack Exchange API 2.3 ------------------------------------------------------------------


class StackExchangeEmulator:
    """``GET /2.3/questions?site=stackoverflow&tagged=&fromdate=&todate=&filter=total``.

    Every answer is gzip-compressed. Counts come from ``questions[(tag, month)]`` and
    ``site_totals[month]`` (0 when absent); the window must be whole UTC months. A daily quota
    counts down (300, or 10,000 with a key in ``valid_keys``/any key when it is None); at 0 the
    answer is HTTP 400 ``throttle_violation`` "more requests available in N seconds".
    ``quota_in_answer`` adds ``quota_max``/``quota_remaining`` to ``filter=total`` answers (the
    real filter strips them); ``backoff_next`` queues ``backoff`` values for the next answers.
    """

    def __init__(self) -> None:
        self.questions: dict[tuple[str, date], int] = {}
        self.site_totals: dict[date, int] = {}
        self.valid_keys: set[str] | None = None
        self.quota_max = 300
        self.quota_max_with_key = 10_000
        self.quota_used: dict[bool, int] = {False: 0, True: 0}  # per (with key)
        self.quota_in_answer = False
        self.backoff_next: list[int] = []
        self.reset_in = 3600 * 10  # seconds to "more requests available" once exhausted
        self.asked: list[tuple[str | None, date]] = []  # answered counts, in order
        self._lock = threading.Lock()

    def add_tag(self, tag: str, counts: Mapping[date, int]) -> None:
        """Set the questions of ``tag`` per month."""
        for month, n in counts.items():
            self.questions[(tag, month)] = n

    def count(self, tag: str | None, month: date) -> int:
        """Return what the fake answers for ``tag`` (None: the site) in ``month``."""
        if tag is None:
            return self.site_totals.get(month, 0)
        return self.questions.get((tag, month), 0)

    @staticmethod
    def _answer(payload: Mapping[str, object], status: int = 200) -> Response:
        body = json.dumps(payload).encode()
        return Response(
            status,
            _gzip(body),
            {"Content-Type": "application/json; charset=utf-8", "Content-Encoding": "gzip"},
        )

    def _error(self, error_id: int, name: str, message: str) -> Response:
        return self._answer(
            {"error_id": error_id, "error_message": message, "error_name": name}, 400
        )

    def handle(self, req: Request) -> Response:
        if req.method != "GET":
            return self._error(404, "no_method", "no method found with this name")
        if req.path != "/2.3/questions":
            return self._error(404, "no_method", "no method found with this name")
        key = req.arg("key")
        if key is not None and self.valid_keys is not None and key not in self.valid_keys:
            return self._error(400, "bad_parameter", "key")
        with_key = key is not None
        limit = self.quota_max_with_key if with_key else self.quota_max
        with self._lock:
            if self.quota_used[with_key] >= limit:
                return self._error(
                    502,
                    "throttle_violation",
                    f"too many requests from this IP, more requests available in "
                    f"{self.reset_in} seconds",
                )
            self.quota_used[with_key] += 1
            remaining = limit - self.quota_used[with_key]
        if req.arg("site") != "stackoverflow":
            return self._error(400, "bad_parameter", "site")
        try:
            start = datetime.fromtimestamp(int(req.arg("fromdate") or ""), UTC)
            end = int(req.arg("todate") or "")
        except ValueError:
            return self._error(400, "bad_parameter", "fromdate")
        month = start.date().replace(day=1)
        nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        whole = int(datetime(nxt.year, nxt.month, 1, tzinfo=UTC).timestamp()) - 1
        if start != datetime(month.year, month.month, 1, tzinfo=UTC) or end != whole:
            return self._error(400, "bad_parameter", "the fake answers whole UTC months only")
        tag = req.arg("tagged")
        if tag is not None and (";" in tag or not tag):
            return self._error(400, "bad_parameter", "the fake answers one tag at a time")
        if req.arg("filter") != "total":
            return self._error(400, "bad_parameter", "filter")
        with self._lock:
            self.asked.append((tag, month))
            payload: dict[str, object] = {"total": self.count(tag, month)}
            if self.backoff_next:
                payload["backoff"] = self.backoff_next.pop(0)
        if self.quota_in_answer:
            payload.update(quota_max=limit, quota_remaining=remaining)
        return self._answer(payload)


def _gzip(body: bytes) -> bytes:
    import gzip

    return gzip.compress(body, mtime=0)


# ---- HTTP plumbing ---------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, source: str, fake: FakeUpstream) -> None:
        self.source = source
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hung up (or a reset we caused) is not worth a traceback on stderr
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body are separate writes: without TCP_NODELAY each answer waits ~40 ms for
    # the client's delayed ACK (Nagle)
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log replaces httpd's access log

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _serve(self) -> None:
        fake, source = self.server.fake, self.server.source
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        host, port = self.server.server_address[:2]
        req = Request(
            source=source,
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=headers,
            body=body,
            base=f"http://{host}:{port}",
        )
        record = RequestRecord(
            source=source,
            method=self.command,
            path=split.path,
            query=split.query,
            headers={k: headers[k] for k in _LOGGED_HEADERS if k in headers},
            had_token=req.token is not None,
            had_authorization="authorization" in headers,
        )
        fake.log.append(record)
        fault = fake.faults.take(source, self.command, self.path)
        if fault is not None:
            record.fault = fault.kind
        if fault is not None and fault.kind == "block":
            fault.arrived.set()
            fault.release.wait(BLOCK_TIMEOUT)
            fault = None
        if fault is not None and fault.kind == "reset":
            self._reset()
            return
        if fault is not None and fault.kind == "status":
            response = Response(fault.status, fault.body, dict(fault.headers))
        else:
            response = fake.emulators[source].handle(req)
        if fault is not None and fault.kind == "cut_json":
            response.body = response.body[: len(response.body) // 2]
        record.status = response.status
        self._send(response, truncate=fault is not None and fault.kind == "truncate")

    def _send(self, response: Response, *, truncate: bool) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        bodyless = response.status in (204, 304) or self.command == "HEAD"
        if response.status != 304:
            self.send_header("Content-Length", str(len(response.body)))
        if truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        if bodyless:
            return
        if truncate:
            self.wfile.write(response.body[: len(response.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(response.body)

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send a TCP RST instead of a FIN
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()


class FakeUpstream:
    """Every upstream on loopback: ``github``, ``pypi``, ``pypistats``, ``clickpy``, ``apache``,
    ``hn`` (Algolia HN Search) and ``stackoverflow`` (Stack Exchange API)."""

    def __init__(self) -> None:
        self.github = GithubEmulator()
        self.pypi = PypiEmulator()
        self.pypistats = PypistatsEmulator()
        self.clickhouse = ClickhouseEmulator()
        self.apache = ApacheEmulator()
        self.hn = HnEmulator()
        self.stackexchange = StackExchangeEmulator()
        self.emulators: dict[str, Any] = {
            "github": self.github,
            "pypi": self.pypi,
            "pypistats": self.pypistats,
            "clickpy": self.clickhouse,
            "apache": self.apache,
            "hn": self.hn,
            "stackoverflow": self.stackexchange,
        }
        self.faults = FaultRegistry()
        self.log = RequestLog()
        self._servers: dict[str, _Server] = {}
        self._threads: list[threading.Thread] = []

    def start(self) -> FakeUpstream:
        """Start one server per upstream on 127.0.0.1 (random ports)."""
        for source in SOURCES:
            server = _Server(source, self)
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"fake-{source}",
                daemon=True,
            )
            thread.start()
            self._servers[source] = server
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Release blocked requests and stop every server."""
        self.faults.clear()
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def take_offline(self, source: str) -> None:
        """Close ``source``'s listening socket: connections are refused from now on."""
        server = self._servers[source]
        server.shutdown()
        server.server_close()

    def url(self, source: str) -> str:
        """Return the base URL of ``source``'s server (no trailing slash)."""
        host, port = self._servers[source].server_address[:2]
        return f"http://{host}:{port}"

    def env(self, *, github_enterprise: bool = False) -> dict[str, str]:
        """Return the TRACKER_*_URL variables pointing at the fake.

        The GraphQL URL is left to tracker's derivation (``<base>/graphql``, or
        ``/api/graphql`` for an Enterprise-style ``/api/v3`` base).
        """
        github = self.url("github") + ("/api/v3" if github_enterprise else "")
        return {
            "TRACKER_GITHUB_API_URL": github,
            "TRACKER_PYPI_URL": self.url("pypi"),
            "TRACKER_PYPISTATS_URL": self.url("pypistats"),
            "TRACKER_CLICKHOUSE_URL": self.url("clickpy"),
            "TRACKER_APACHE_URL": self.url("apache") + "/dist",
            "TRACKER_HN_URL": self.url("hn"),
            "TRACKER_STACKEXCHANGE_URL": self.url("stackoverflow"),
        }

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def iter_sundays(last: date, n: int) -> Iterator[date]:
    """Yield ``n`` Sundays ending at the Sunday on or before ``last``, newest first."""
    sunday = last - timedelta(days=(last.weekday() + 1) % 7)
    for i in range(n):
        yield sunday - timedelta(weeks=i)
