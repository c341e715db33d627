"""GitHub tests' shared parts: the e2e GitHub emulator (tests/e2e/fake_upstream.py) served
through respx, recorded answers, a sample repo and a collector run.

One GitHub model for every test: the loopback servers of the end-to-end suite and, here, a respx
route on ``https://github.test`` (REST under ``/api/v3``, GraphQL at ``/api/graphql``). Faults are
the e2e ``Fault`` objects, or recorded answers from tests/fixtures/github/ (``fixture()``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import respx

from fakes import (
    Budget,
    Fault,
    GhRelease,
    GhRepo,
    GithubEmulator,
    Request,
    StarWeek,
    at,
)
from tracker.catalog import Tool
from tracker.collectors.base import CollectContext
from tracker.collectors.github import GithubCollector
from tracker.config import Settings
from tracker.records import ToolBatch, ToolOutcome
from tracker.warehouse.cursors import read_plan

FIX = Path(__file__).parents[2] / "fixtures" / "github"
ORIGIN = "https://github.test"
API_URL = ORIGIN + "/api/v3"
GRAPHQL_URL = ORIGIN + "/api/graphql"


def fixture(name: str, *, without: tuple[str, ...] = (), **values: object) -> Fault:
    """Return a recorded answer (``{"status", "headers", "body"}``) as a Fault.

    ``{base}`` (the API URL) and ``{name}`` placeholders are filled from ``values``; headers
    named in ``without`` are left out.
    """
    doc = json.loads((FIX / name).read_text())
    body = doc["body"]
    raw = body if isinstance(body, str) else json.dumps(body)

    def fill(text: str) -> str:
        for key, value in {"base": API_URL, **values}.items():
            text = text.replace("{" + key + "}", str(value))
        return text

    headers = {k: fill(v) for k, v in doc["headers"].items() if k.lower() not in without}
    return Fault("status", doc["status"], fill(raw).encode(), headers)


def html_page(status: int = 502) -> Fault:
    """Return GitHub's HTML error page (tests/fixtures/github/error_502.html) as a Fault."""
    page = (FIX / "error_502.html").read_bytes()
    return Fault("status", status, page, {"Content-Type": "text/html; charset=utf-8"})


def star_weeks(first: date, last: date, seed: int = 1) -> list[StarWeek]:
    """Return one StarWeek per Sunday from ``first``'s week to ``last``'s (some negative)."""
    sunday = first - timedelta(days=(first.weekday() + 1) % 7)
    out = []
    i = 0
    while sunday <= last:
        n = ((i * 7 + seed) % 13) - 1
        out.append(StarWeek(sunday, (n, 0, 0, 0, 0, 0, 0)))
        sunday += timedelta(days=7)
        i += 1
    return out


@dataclass
class RespxGitHub:
    """A GithubEmulator behind a respx router; ``calls`` keeps every request, in order."""

    router: respx.MockRouter
    emulator: GithubEmulator = field(default_factory=GithubEmulator)
    calls: list[httpx.Request] = field(default_factory=list)
    faults: list[tuple[re.Pattern[str], Fault]] = field(default_factory=list)

    def __post_init__(self) -> None:
        unlimited = 10**9
        self.emulator.core = Budget(unlimited, unlimited)
        self.emulator.core_anonymous = Budget(unlimited, unlimited)
        self.emulator.graphql = Budget(unlimited, unlimited)
        self.router.route(host="github.test").mock(side_effect=self._handle)

    def fail(self, pattern: str, fault: Fault, times: int = 1) -> None:
        """Answer the next ``times`` requests whose path and query match ``pattern`` with it."""
        self.faults.extend([(re.compile(pattern), fault)] * times)

    def find(self, pattern: str = "", method: str | None = None) -> list[httpx.Request]:
        """Return the requests whose path and query match ``pattern``."""
        return [
            r
            for r in self.calls
            if re.search(pattern, _target(r)) and (method is None or r.method == method)
        ]

    def paths(self, since: int = 0) -> list[str]:
        """Return path and query of each request from index ``since``."""
        return [_target(r) for r in self.calls[since:]]

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        target = _target(request)
        for i, (pattern, fault) in enumerate(self.faults):
            if pattern.search(target):
                del self.faults[i]
                return self._fault(request, fault)
        return self._serve(request)

    def _serve(self, request: httpx.Request) -> httpx.Response:
        req = Request(
            source="github",
            method=request.method,
            path=request.url.path,
            query=parse_qs(request.url.query.decode(), keep_blank_values=True),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=request.content,
            base=ORIGIN,
        )
        answer = self.emulator.handle(req)
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body)

    def _fault(self, request: httpx.Request, fault: Fault) -> httpx.Response:
        if fault.kind == "reset":
            raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
        if fault.kind == "truncate":
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            )
        if fault.kind == "cut_json":
            whole = self._serve(request)
            kept = {k: v for k, v in whole.headers.items() if k.lower() != "content-length"}
            return httpx.Response(200, headers=kept, content=whole.content[:20])
        return httpx.Response(fault.status, headers=fault.headers, content=fault.body)


def _target(request: httpx.Request) -> str:
    query = request.url.query.decode()
    return request.url.path + (f"?{query}" if query else "")


def headers_of(request: httpx.Request) -> dict[str, Any]:
    """Return a request's headers, lower-cased names."""
    return {k.lower(): v for k, v in request.headers.items()}


NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday
TOKEN = "ghp_SECRETtoken1234567890"
AIRFLOW = Tool("airflow", "Airflow", "orchestration", github="apache/airflow")
DAGSTER = Tool("dagster", "Dagster", "orchestration", github="dagster-io/dagster")
HISTORY = r"/stargazers/history"
# Sunday 2026-11-22 00:00 in UTC-8 is Sunday 08:00 UTC; in UTC+9 it is Saturday 15:00 UTC
WEST = int(datetime(2026, 11, 22, 8, 0, tzinfo=UTC).timestamp())
EAST = int(datetime(2026, 11, 21, 15, 0, tzinfo=UTC).timestamp())


def add_repo(gh: RespxGitHub, name: str, first: date, seed: int = 1, **kw: Any) -> GhRepo:
    """Add ``name`` with weekly stars since ``first`` (10 forks, 3 open issues, 7 watchers)."""
    weeks = star_weeks(first, date(2026, 11, 22), seed=seed)
    fields: dict[str, Any] = dict(
        created_at=at(f"{first.isoformat()}T10:00:00Z"),
        pushed_at=at("2026-11-20T08:59:02Z"),
        stargazers_count=sum(w.total for w in weeks),
        forks_count=10,
        open_issues_count=3,
        subscribers_count=7,
        star_weeks=weeks,
    )
    fields.update(kw)
    return gh.emulator.add_repo(name, **fields)


def airflow(gh: RespxGitHub, **kw: Any) -> GhRepo:
    releases = [
        GhRelease("3.1.4rc1", at("2026-11-18T10:00:00Z"), at("2026-11-18T10:05:00Z"),
                  "Release 3.1.4rc1", prerelease=True),
        GhRelease("3.2.0", at("2026-11-19T00:00:00Z"), None, "draft", draft=True),
        GhRelease("3.1.3", at("2026-11-10T12:00:00Z"), at("2026-11-10T12:30:00Z"),
                  "Release 3.1.3"),
    ]  # fmt: skip
    fields: dict[str, Any] = {"id": 33884891, "releases": releases, **kw}
    return add_repo(gh, "apache/airflow", date(2025, 1, 1), **fields)


def dagster(gh: RespxGitHub) -> GhRepo:
    return gh.emulator.add_repo(
        "dagster-io/dagster", id=2, created_at=at("2025-06-01T00:00:00Z"), stargazers_count=5,
        forks_count=10, open_issues_count=3, subscribers_count=7,
    )  # fmt: skip


def run(
    store: Any,
    gh: RespxGitHub,
    tools: list[Tool],
    *,
    token: str | None = None,
    now: datetime = NOW,
    sleeps: list[float] | None = None,
    **collector_kw: Any,
) -> tuple[list[ToolOutcome], int]:
    settings = Settings(
        github_token=token,
        github_api_url=API_URL,
        github_graphql_url=GRAPHQL_URL,
        http_retries=3,
    )
    ctx = CollectContext(
        settings=settings,
        state=read_plan(store.con, "github", [t.id for t in tools], now),
        sleep=(sleeps if sleeps is not None else []).append,
        now=lambda: now,
    )
    outcomes = list(GithubCollector(backoff_base=0.0, **collector_kw).collect(ctx, tools))
    for outcome in outcomes:
        if isinstance(outcome, ToolBatch):
            store.write_batch(outcome)
    assert [o.tool_id for o in outcomes] == [t.id for t in tools]
    return outcomes, ctx.requests.value


def rows(store: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in store.con.execute(sql).fetchall()]


def clean(outcome: ToolOutcome) -> bool:
    return isinstance(outcome, ToolBatch) and outcome.errors == ()
