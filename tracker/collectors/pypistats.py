"""pypistats.org: daily downloads without mirrors of each catalog package (last 180 days).

Docs: https://pypistats.org/api/ . ``GET /api/packages/<name>/overall?mirrors=false`` returns
``{"data": [{"category": "without_mirrors", "date": "YYYY-MM-DD", "downloads": N}, ...],
"package": ..., "type": "overall_downloads"}``. The data covers the last 180 days and is updated
once a day, so each run upserts every day it sees (the table outgrows the window over time) and a
package is not asked again on the day it was already fetched. The site asks for at most about
5 requests/second and 30/minute and answers 429 (sometimes with an HTML page) beyond that.
It answers 404 both for an unknown package and for a known one with no download rows (see the
server's ``/api/packages/<name>/overall`` view), so a 404 says "unknown package or no downloads".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import ClassVar

import httpx

from tracker.catalog import Tool
from tracker.collectors._packages import (
    Fetched,
    PackageCollector,
    PackageResult,
    PackageSource,
    conditional_headers,
    daily_records,
    iso_day,
    normalize,
    read_json,
)
from tracker.collectors.base import (
    CollectContext,
    RateLimiter,
    RetryPolicy,
    describe_body,
    parse_retry_after,
    register,
)
from tracker.errors import ParseError, RateLimitedError
from tracker.records import DownloadRecord, HttpCacheRecord

__all__ = [
    "PypistatsCollector",
    "PypistatsFetch",
    "already_collected",
    "collect_overall",
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
        day = iso_day(raw_day)
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
    return daily_records(by_day, tool_id=tool_id, package=package, source=SOURCE)


PypistatsFetch = Fetched  # an ``/overall`` answer (payload None on 304)


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
) -> Fetched:
    """Return the ``/overall?mirrors=false`` answer of ``package``, waiting out 429s.

    Raises UpstreamError (404: unknown package, or no downloads), RateLimitedError when 429
    persists.
    """
    path = overall_path(package)
    url = str(client.build_request("GET", path).url)
    for attempt in range(RATE_LIMIT_RETRIES + 1):
        if limiter is not None:
            limiter.wait()
        response = client.get(path, headers=conditional_headers(validators))
        if response.status_code != 429:
            break
        # the body may be an HTML page: only the status and Retry-After matter here
        wait = parse_retry_after(response.headers.get("retry-after"))
        wait = RATE_LIMIT_WAIT if wait is None else wait
        if attempt == RATE_LIMIT_RETRIES or wait > MAX_RATE_LIMIT_WAIT:
            raise RateLimitedError(
                f"rate limited after {attempt + 1} attempt(s) ({describe_body(response)})",
                source=SOURCE,
                url=url,
                status=429,
            )  # give up for this run rather than block it for longer
        log.info("pypistats: HTTP 429 on %s, waiting %.0fs", url, wait)
        sleep(wait)
    # pypistats answers 404 for a known package without download rows as well
    not_found = f"unknown package or no downloads for {package!r}"
    return read_json(response, source=SOURCE, url=url, not_found=not_found, validators=validators)


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


def collect_overall(
    ctx: CollectContext,
    client: httpx.Client,
    limiter: RateLimiter,
    tool: Tool,
    package: str,
    validators: tuple[str | None, str | None],
) -> PackageResult:
    """Return one package's daily downloads, and its validators once its answer is read."""
    result = fetch_overall(client, package, validators=validators, sleep=ctx.sleep, limiter=limiter)
    # kept only once the answer is read: a payload that does not parse is asked again
    fetched = (HttpCacheRecord(result.url, result.etag, result.last_modified, ctx.now()),)
    counted = (("packages_fetched", 1),)
    if result.payload is None:  # 304: nothing changed since the last fetch
        return PackageResult(http_cache=fetched, counters=counted)
    rows = parse_overall(result.payload, tool_id=tool.id, package=package, url=result.url)
    empty = (f"{package}: pypistats has no download data (nothing stored)",)
    return PackageResult(
        downloads=tuple(rows), http_cache=fetched, counters=counted, warnings=() if rows else empty
    )


@register(SOURCE)
class PypistatsCollector(PackageCollector[tuple[str | None, str | None]]):
    """Collects daily downloads without mirrors from pypistats, serially and throttled."""

    name: ClassVar[str] = SOURCE

    def client(self, ctx: CollectContext) -> httpx.Client:
        """Return pypistats' client: 429 is left to ``fetch_overall`` (the service's window)."""
        policy = RetryPolicy(
            retries=ctx.settings.http_retries, retry_statuses=frozenset({500, 502, 503, 504})
        )
        return self.json_client(ctx, ctx.settings.pypistats_url, policy=policy)

    def source(
        self, ctx: CollectContext, client: httpx.Client
    ) -> PackageSource[tuple[str | None, str | None]]:
        """Return the declaration: serial requests spaced to 30 per minute, fresh ones skipped."""
        limiter = RateLimiter(REQUESTS_PER_MINUTE, 60.0, sleep=ctx.sleep, clock=self.clock)

        def url(package: str) -> str:
            return str(client.build_request("GET", overall_path(package)).url)

        def prepare(tool: Tool, package: str) -> tuple[str | None, str | None] | PackageResult:
            last_day = ctx.state.last_download_day(tool.id, package, SOURCE)
            if already_collected(last_day, ctx.state.http_fetched_at(url(package)), now=ctx.now()):
                log.debug("pypistats: %s already collected today", package)
                return PackageResult(counters=(("packages_skipped_fresh", 1),))
            return ctx.state.http_validators(url(package)) if last_day else (None, None)

        return PackageSource(
            name=SOURCE,
            url=url,
            prepare=prepare,
            work=lambda tool, package, validators: collect_overall(
                ctx, client, limiter, tool, package, validators
            ),
            counters=("packages_fetched", "packages_skipped_fresh"),
            stop_on=(RateLimitedError,),
        )
