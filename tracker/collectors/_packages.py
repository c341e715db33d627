"""One per-package loop for the package sources (``pypi``, ``pypistats``, ``clickpy``).

A source declares itself as a ``PackageSource``: ``url`` names a package's request in its
errors; ``prepare`` reads the package's cursors from the warehouse (always on the thread that
runs ``collect()``, the only one that may use the warehouse connection) and may settle the
package without a request; ``work`` fetches (HTTP only) and parses (pure) into a
``PackageResult``, or raises TrackerError when the package fails.

**Failure rule** (the one the three sources' tests pinned): a tool fails (``ToolFailure``, its
packages' errors joined by ``; ``) when at least one of its packages failed and none succeeded.
A package succeeds when its answer was read: parsed (even to no rows), 304 Not Modified, or
settled by ``prepare`` (already collected today). Otherwise the tool is a ``ToolBatch`` carrying
the failed packages' errors beside the others' records. What counts as a failure is the
source's call: ClickPy's empty backfill raises, pypistats' empty data is only a warning.

Stops: once a stop is requested each package left answers ``<package>: not collected (stop
requested)``. The unreachable-host breaker is the shared client's (``base.open_breaker``): once
the host could not be reached, later packages are not asked, and each error names the package's
own URL. An error of a type in ``stop_on`` (pypistats: rate limited) ends the source's requests
for the rest of the run the same way. Any other exception is a bug on odd data: ``isolate``
turns it into that tool's failure, so it cannot end the source.
"""

from __future__ import annotations

import functools
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

import httpx

from tracker.catalog import Tool
from tracker.collectors._http import json_body
from tracker.collectors.base import (
    BaseCollector,
    CollectContext,
    describe_body,
    isolate,
    make_client,
    open_breaker,
)
from tracker.errors import SourceUnreachableError, TrackerError, UpstreamError
from tracker.records import (
    DownloadRecord,
    HttpCacheRecord,
    ReleaseRecord,
    ToolBatch,
    ToolFailure,
    ToolOutcome,
)

__all__ = [
    "Fetched",
    "PackageCollector",
    "PackageError",
    "PackageResult",
    "PackageSource",
    "collect_packages",
    "daily_records",
    "get_json",
    "iso_day",
    "normalize",
    "read_json",
]

T = TypeVar("T")


def normalize(name: str) -> str:
    """Return the PEP 503 normalised form of a project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def iso_day(value: object) -> date | None:
    """Return ``value`` as a date when it is a ``YYYY-MM-DD`` string, else None."""
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def daily_records(
    by_day: Mapping[date, int], *, tool_id: str, package: str, source: str
) -> list[DownloadRecord]:
    """Return one ``DownloadRecord`` per day of ``by_day`` (downloads per UTC day), oldest first."""
    return [
        DownloadRecord(tool_id=tool_id, package=package, day=day, downloads=n, source=source)
        for day, n in sorted(by_day.items())
    ]


class PackageError(TrackerError):
    """A package gave nothing to store, for a reason that is not an HTTP error (message as is)."""


@dataclass(frozen=True, slots=True)
class PackageResult:
    """What one package gave: records, validators to keep, warnings and counters."""

    releases: tuple[ReleaseRecord, ...] = ()
    downloads: tuple[DownloadRecord, ...] = ()
    http_cache: tuple[HttpCacheRecord, ...] = ()
    warnings: tuple[str, ...] = ()
    counters: tuple[tuple[str, int], ...] = ()


def _no_warnings(totals: Mapping[str, int]) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True, slots=True)
class PackageSource(Generic[T]):
    """A package source for one run: how to name, prepare and collect one (tool, package)."""

    name: str
    url: Callable[[str], str]  # normalised package -> the URL its errors name
    prepare: Callable[[Tool, str], T | PackageResult]  # cursors; a result settles the package
    work: Callable[[Tool, str, T], PackageResult]  # fetch -> parse; raises TrackerError
    counters: tuple[str, ...] = ()  # every counter a batch reports, 0 when unused
    stop_on: tuple[type[TrackerError], ...] = ()  # errors that end the source for this run
    tool_warnings: Callable[[Mapping[str, int]], tuple[str, ...]] = _no_warnings
    workers: int = 1  # tools collected at once (threads); prepare stays on the calling thread


@dataclass(frozen=True, slots=True)
class Fetched:
    """A JSON answer: the decoded payload (None when 304 Not Modified) and its validators."""

    url: str
    payload: object | None
    etag: str | None
    last_modified: str | None


def conditional_headers(validators: tuple[str | None, str | None]) -> dict[str, str]:
    """Return If-None-Match / If-Modified-Since headers for stored (ETag, Last-Modified)."""
    etag, last_modified = validators
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def read_json(
    response: httpx.Response,
    *,
    source: str,
    url: str,
    not_found: str,
    validators: tuple[str | None, str | None] = (None, None),
) -> Fetched:
    """Return a 200 answer decoded (or 304 as no payload); raises UpstreamError otherwise."""
    status = response.status_code
    if status == 304:
        return Fetched(url, None, *validators)
    if status == 404:
        raise UpstreamError(not_found, source=source, url=url, status=404)
    if status != 200:
        raise UpstreamError(describe_body(response), source=source, url=url, status=status)
    try:
        payload = json_body(response)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UpstreamError(
            f"invalid JSON ({describe_body(response)})", source=source, url=url, status=status
        ) from exc
    return Fetched(
        url, payload, response.headers.get("etag"), response.headers.get("last-modified")
    )


def get_json(
    client: httpx.Client,
    path: str,
    *,
    source: str,
    not_found: str,
    validators: tuple[str | None, str | None] = (None, None),
    accept: str | None = None,
) -> Fetched:
    """Return ``GET path`` read by ``read_json``, conditional on stored validators."""
    headers = conditional_headers(validators) | ({"Accept": accept} if accept else {})
    response = client.get(path, headers=headers)
    url = str(client.base_url.join(path))
    return read_json(response, source=source, url=url, not_found=not_found, validators=validators)


class _Run(Generic[T]):
    """One run of a source: the loop body, and why the source stopped asking (if it did)."""

    def __init__(self, source: PackageSource[T], ctx: CollectContext, client: httpx.Client):
        self.source = source
        self.ctx = ctx
        self.client = client
        self.stopped: TrackerError | None = None  # an error of source.stop_on

    def plan(self, tool: Tool) -> list[tuple[str, T | PackageResult]]:
        """Return each package of ``tool`` (normalised) with what ``prepare`` made of it."""
        return [(p, self.source.prepare(tool, p)) for p in map(normalize, tool.pypi)]

    def blocked(self, url: str) -> str | None:
        """Return why ``url`` is not asked for (the source stopped), or None."""
        if self.stopped is not None:
            reason = self.stopped.reason if isinstance(self.stopped, UpstreamError) else ""
            return f"not collected: {self.source.name} {reason or self.stopped}: {url}"
        unreachable = open_breaker(self.client)
        return unreachable.for_url(url).not_collected if unreachable else None

    def one(self, tool: Tool, package: str, prepared: T | PackageResult) -> PackageResult | str:
        """Return the package's result, or its error line."""
        if isinstance(prepared, PackageResult):
            return prepared
        url = self.source.url(package)
        blocked = self.blocked(url)
        if blocked:
            return blocked
        try:
            return self.source.work(tool, package, prepared)
        except SourceUnreachableError as exc:
            return exc.for_url(url, requested=exc.requested).not_collected
        except TrackerError as exc:
            if isinstance(exc, self.source.stop_on):
                self.stopped = exc
            return str(exc)

    def tool(
        self, tool: Tool, plan: list[tuple[str, T | PackageResult]] | None = None
    ) -> ToolOutcome:
        """Return the tool's outcome under the failure rule (module docstring)."""
        results: list[PackageResult] = []
        errors: list[str] = []
        for package, prepared in self.plan(tool) if plan is None else plan:
            if self.ctx.stop_requested():
                errors.append(f"{package}: not collected (stop requested)")
                continue
            outcome = self.one(tool, package, prepared)
            if isinstance(outcome, str):
                errors.append(outcome)
            else:
                results.append(outcome)
        if errors and not results:
            return ToolFailure(tool.id, "; ".join(errors))
        return self.batch(tool, results, errors)

    def batch(self, tool: Tool, results: list[PackageResult], errors: list[str]) -> ToolBatch:
        """Return the records, validators, warnings and summed counters of ``results``."""
        totals = dict.fromkeys(self.source.counters, 0)
        for result in results:
            for key, n in result.counters:
                totals[key] = totals.get(key, 0) + n
        warnings = [w for r in results for w in r.warnings]
        return ToolBatch(
            tool_id=tool.id,
            releases=tuple(x for r in results for x in r.releases),
            downloads=tuple(x for r in results for x in r.downloads),
            http_cache=tuple(x for r in results for x in r.http_cache),
            errors=tuple(errors),
            warnings=(*warnings, *self.source.tool_warnings(totals)),
            counters=tuple(totals.items()),
        )


def collect_packages(
    source: PackageSource[T], ctx: CollectContext, client: httpx.Client, tools: Sequence[Tool]
) -> Iterator[ToolOutcome]:
    """Yield one outcome per tool, in order, each under ``isolate``.

    With ``workers > 1`` every tool's cursors are read first, on this thread, and the tools
    are then collected by a thread pool; otherwise each tool's cursors are read just before it
    is collected (so they see what the runner stored for the tools before it).
    """
    run = _Run(source, ctx, client)
    if source.workers <= 1:
        for tool in tools:
            yield isolate(tool.id, functools.partial(run.tool, tool))
        return
    plans = [run.plan(tool) for tool in tools]
    with ThreadPoolExecutor(max_workers=source.workers, thread_name_prefix=source.name) as pool:
        yield from pool.map(
            lambda tool, plan: isolate(tool.id, functools.partial(run.tool, tool, plan)),
            tools,
            plans,
        )


class PackageCollector(BaseCollector, ABC, Generic[T]):
    """A collector of a package source: one client, one ``PackageSource``, the loop above."""

    def applicable(self, tool: Tool) -> bool:
        """Return True when the tool lists PyPI packages."""
        return bool(tool.pypi)

    @abstractmethod
    def client(self, ctx: CollectContext) -> httpx.Client:
        """Return the source's client (``open_client``)."""

    def open_client(self, ctx: CollectContext, base_url: str, **options: Any) -> httpx.Client:
        """Return ``base.make_client`` for this source on ``self.transport``."""
        return make_client(
            ctx, source=self.name, base_url=base_url, transport=self.transport, **options
        )

    def json_client(self, ctx: CollectContext, base_url: str, **options: Any) -> httpx.Client:
        """Return ``open_client`` for a JSON API: asks for JSON, retries JSON bodies cut short."""
        headers = {"Accept": "application/json"}
        return self.open_client(ctx, base_url, headers=headers, check_json=True, **options)

    @abstractmethod
    def source(self, ctx: CollectContext, client: httpx.Client) -> PackageSource[T]:
        """Return the source declaration for this run."""

    def collect(self, ctx: CollectContext, tools: Sequence[Tool]) -> Iterator[ToolOutcome]:
        """Yield one outcome per tool (``collect_packages``)."""
        with self.client(ctx) as client:
            yield from collect_packages(self.source(ctx, client), ctx, client, tools)
