"""pypistats.org: daily downloads without mirrors of each catalog package (last 180 days).

Docs: https://pypistats.org/api/ . ``GET /api/packages/<name>/overall?mirrors=false`` returns
``{"data": [{"category": "without_mirrors", "date": "YYYY-MM-DD", "downloads": N}, ...],
"package": ..., "type": "overall_downloads"}``. The data covers the last 180 days and is updated
once a day, so each run upserts every day it sees (the table outgrows the window over time) and a
package is not asked again on the day it was already fetched. The site asks for at most about
5 requests/second and 30/minute and answers 429 (sometimes with an HTML page) beyond that.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import ClassVar

import httpx

from tracker.catalog import Tool
from tracker.collectors.base import (
    CollectContext,
    RateLimiter,
    RetryPolicy,
    describe_body,
    isolate,
    make_client,
    parse_retry_after,
    register,
)
from tracker.collectors.pypi import normalize
from tracker.errors import (
    ParseError,
    RateLimitedError,
    SourceUnreachableError,
    TrackerError,
    UpstreamError,
)
from tracker.records import DownloadRecord, HttpCacheRecord, ToolBatch, ToolFailure, ToolOutcome

__all__ = [
    "PypistatsCollector",
    "PypistatsFetch",
    "already_collected",
    "fetch_overall",
    "parse_overall",
]

log = logging.getLogger(__name__)

SOURCE = "pypistats"
CATEGORY = "without_mirrors"
# Published limits: ~5 requests/second and 30/minute. 30/minute is the binding one (one per 2 s).
REQUESTS_PER_MINUTE = 30
# A 429 without Retry-After: wait out the whole per-minute window before asking again.
RATE_LIMIT_WAIT = 60.0
RATE_LIMIT_RETRIES = 3
MAX_RATE_LIMIT_WAIT = 600.0


def parse_overall(payload: object, *, tool_id: str, package: str, url: str) -> list[DownloadRecord]:
    """Return the ``without_mirrors`` rows of an ``/overall`` payload as daily records (UTC days)."""
    if not isinstance(payload, dict):
        raise ParseError("payload is not a JSON object", source=SOURCE, field="$", url=url)
    rows = payload.get("data")
    if not isinstance(rows, list):
        raise ParseError("missing or not a list", source=SOURCE, field="data", url=url)
    by_day: dict[date, int] = {}
    for row in rows:
        if not isinstance(row, dict):
            raise ParseError("row is not an object", source=SOURCE, field="data[]", url=url)
        if row.get("category") != CATEGORY:
            continue  # with_mirrors rows (when the server ignores mirrors=false)
        raw_day = row.get("date")
        downloads = row.get("downloads")
        try:
            day = date.fromisoformat(raw_day) if isinstance(raw_day, str) else None
        except ValueError:
            day = None
        if day is None:
            raise ParseError(
                f"not a YYYY-MM-DD date: {raw_day!r}", source=SOURCE, field="data[].date", url=url
            )
        if isinstance(downloads, bool) or not isinstance(downloads, int) or downloads < 0:
            raise ParseError(
                f"not a non-negative integer: {downloads!r}",
                source=SOURCE,
                field="data[].downloads",
                url=url,
            )
        if by_day.get(day, downloads) != downloads:
            raise ParseError(
                f"two different counts for {day}", source=SOURCE, field="data[].date", url=url
            )
        by_day[day] = downloads
    return [
        DownloadRecord(tool_id=tool_id, package=package, day=day, downloads=n, source=SOURCE)
        for day, n in sorted(by_day.items())
    ]


@dataclass(frozen=True, slots=True)
class PypistatsFetch:
    """One ``/overall`` answer: the decoded payload (None on 304) and the response validators."""

    url: str
    payload: object | None
    etag: str | None
    last_modified: str | None


def overall_path(package: str) -> str:
    """Return the ``/overall`` path (with ``mirrors=false``) of a package."""
    return f"/api/packages/{normalize(package)}/overall?mirrors=false"


def fetch_overall(
    client: httpx.Client,
    package: str,
    *,
    validators: tuple[str | None, str | None] = (None, None),
    sleep: Callable[[float], None] = time.sleep,
    limiter: RateLimiter | None = None,
) -> PypistatsFetch:
    """Return the ``/overall?mirrors=false`` answer of ``package``, waiting out 429s.

    Raises UpstreamError (404: unknown package), RateLimitedError when 429 persists.
    """
    path = overall_path(package)
    url = str(client.build_request("GET", path).url)
    headers: dict[str, str] = {}
    etag, last_modified = validators
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    for attempt in range(RATE_LIMIT_RETRIES + 1):
        if limiter is not None:
            limiter.wait()
        response = client.get(path, headers=headers)
        if response.status_code != 429:
            break
        # the body may be an HTML page: only the status and Retry-After matter here
        wait = parse_retry_after(response.headers.get("retry-after"))
        wait = RATE_LIMIT_WAIT if wait is None else wait
        if attempt == RATE_LIMIT_RETRIES or wait > MAX_RATE_LIMIT_WAIT:
            break  # give up for this run rather than block it for longer
        log.info("pypistats: HTTP 429 on %s, waiting %.0fs", url, wait)
        sleep(wait)
    status = response.status_code
    if status == 429:
        raise RateLimitedError(
            f"rate limited after {attempt + 1} attempt(s) ({describe_body(response)})",
            source=SOURCE,
            url=url,
            status=429,
        )
    if status == 304:
        return PypistatsFetch(url, None, etag, last_modified)
    if status == 404:
        raise UpstreamError(f"unknown package {package!r}", source=SOURCE, url=url, status=404)
    if status != 200:
        raise UpstreamError(describe_body(response), source=SOURCE, url=url, status=status)
    try:
        payload = json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UpstreamError(
            f"invalid JSON ({describe_body(response)})", source=SOURCE, url=url, status=status
        ) from exc
    return PypistatsFetch(
        url, payload, response.headers.get("etag"), response.headers.get("last-modified")
    )


def already_collected(last_day: date | None, fetched_at: datetime | None, *, now: datetime) -> bool:
    """Return True when a package needs no request today (``now`` in UTC).

    pypistats publishes a day once it is over, so its data ends yesterday (UTC): a package whose
    newest stored day is yesterday or later is up to date; one fetched earlier today (UTC) is not
    asked again even when pypistats has not published yesterday yet.
    """
    today = now.date()
    if last_day is not None and last_day >= today - timedelta(days=1):
        return True
    return fetched_at is not None and fetched_at.date() == today


@register(SOURCE)
class PypistatsCollector:
    """Collects daily downloads without mirrors from pypistats, serially and throttled."""

    name: ClassVar[str] = SOURCE

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport = transport
        self.clock = clock
        # why the rest of this run is not asked for (each package then names its own URL)
        self._stopped: RateLimitedError | SourceUnreachableError | None = None

    def applicable(self, tool: Tool) -> bool:
        """Return True when the tool lists PyPI packages."""
        return bool(tool.pypi)

    def _one(
        self, ctx: CollectContext, client: httpx.Client, limiter: RateLimiter, tool: Tool
    ) -> ToolOutcome:
        records: list[DownloadRecord] = []
        cache: list[HttpCacheRecord] = []
        errors: list[str] = []
        warnings: list[str] = []
        skipped = fetched = 0
        now = ctx.now()
        for raw in tool.pypi:
            package = normalize(raw)
            if ctx.stop_requested():
                errors.append(f"{package}: not collected (stop requested)")
                continue
            url = str(client.build_request("GET", overall_path(package)).url)
            last_day = ctx.state.last_download_day(tool.id, package, SOURCE)
            if already_collected(last_day, ctx.state.http_fetched_at(url), now=now):
                skipped += 1
                log.debug("pypistats: %s already collected today", package)
                continue
            validators = ctx.state.http_validators(url) if last_day else (None, None)
            if isinstance(self._stopped, SourceUnreachableError):
                errors.append(self._stopped.for_url(url).not_collected)
                continue
            if self._stopped is not None:
                errors.append(f"not collected: {SOURCE} {self._stopped.reason}: {url}")
                continue
            try:
                result = fetch_overall(
                    client, package, validators=validators, sleep=ctx.sleep, limiter=limiter
                )
            except SourceUnreachableError as exc:
                # the rest of the source would fail the same way: stop asking
                self._stopped = exc
                errors.append(exc.for_url(url, requested=True).not_collected)
                continue
            except RateLimitedError as exc:
                self._stopped = exc
                errors.append(str(exc))
                continue
            except TrackerError as exc:
                errors.append(str(exc))
                continue
            fetched += 1
            fetched_ok = HttpCacheRecord(result.url, result.etag, result.last_modified, now)
            if result.payload is None:
                cache.append(fetched_ok)
                continue  # 304: nothing changed since the last fetch
            try:
                rows = parse_overall(result.payload, tool_id=tool.id, package=package, url=url)
            except ParseError as exc:
                errors.append(str(exc))  # not marked as fetched: the next run asks again
                continue
            cache.append(fetched_ok)
            if not rows:
                warnings.append(f"{package}: pypistats has no download data (nothing stored)")
            records.extend(rows)
        if errors and not records and not skipped and not cache:
            return ToolFailure(tool.id, "; ".join(errors))
        return ToolBatch(
            tool_id=tool.id,
            downloads=tuple(records),
            http_cache=tuple(cache),
            errors=tuple(errors),
            warnings=tuple(warnings),
            counters=(("packages_fetched", fetched), ("packages_skipped_fresh", skipped)),
        )

    def collect(self, ctx: CollectContext, tools: Sequence[Tool]) -> Iterator[ToolOutcome]:
        """Yield one outcome per tool; requests are serial and spaced to 30 per minute."""
        limiter = RateLimiter(REQUESTS_PER_MINUTE, 60.0, sleep=ctx.sleep, clock=self.clock)
        # 429 is handled here (fetch_overall) with the service's own window, not by the transport
        policy = RetryPolicy(
            retries=ctx.settings.http_retries, retry_statuses=frozenset({500, 502, 503, 504})
        )
        with make_client(
            ctx,
            source=SOURCE,
            base_url=ctx.settings.pypistats_url,
            headers={"Accept": "application/json"},
            check_json=True,
            transport=self.transport,
            policy=policy,
        ) as client:
            for tool in tools:
                yield isolate(tool.id, functools.partial(self._one, ctx, client, limiter, tool))
