"""One GitHub tool's steps after its snapshot: releases and star history, and what they gather.

Releases are sorted by creation (the tagged commit's date), not publication: after the first
run, pages are read until one holds only releases created ``RELEASE_MARGIN`` before the newest
stored publication, so a release published today for an older commit is not missed. Star
history: every page on the first run, then pages down to the newest stored week (the first one
conditional); where the endpoint is missing, a week derived from snapshots.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from tracker.catalog import Tool
from tracker.collectors.base import CollectContext
from tracker.collectors.github import fetch, parse
from tracker.collectors.github.fetch import ApiResponse, GitHubApi
from tracker.collectors.github.parse import ReleasePage, RepoInfo
from tracker.errors import RateLimitedError, SourceUnreachableError, TrackerError, UpstreamError
from tracker.records import (
    HttpCacheRecord,
    ReleaseRecord,
    RepoIdentityRecord,
    RepoSnapshotRecord,
    StarWeekRecord,
    ToolBatch,
    ToolFailure,
    ToolOutcome,
)

__all__ = [
    "RELEASE_MARGIN",
    "STOPS",
    "UNCHANGED_REFETCH",
    "ToolWork",
    "fail_message",
    "fresh",
    "guarded",
    "read_enough",
    "read_releases",
    "read_star_history",
]

SOURCE = "github"
# statuses meaning "this server has no star-history endpoint for us": use snapshots instead
HISTORY_UNAVAILABLE = frozenset({403, 404, 410, 501})
# a full backfill whose sum differs from stargazers_count by more than this share is flagged
GAP_WARNING_SHARE = 0.10
# When the repo answers unchanged (same stars / same pushed_at as the stored snapshot), the star
# history and the release list are not asked for again if they were read within this window:
# an unchanged repo costs one (usually 304) request a run; every list is re-read at least weekly
# (a release published from an existing tag does not move pushed_at).
UNCHANGED_REFETCH = timedelta(days=7)
# Incremental release reads stop at a page whose releases were all created this long before the
# newest stored publication. A release published later for a commit older than that, sorting
# beyond the pages read, is missed; each page costs one request.
RELEASE_MARGIN = timedelta(days=365)

STOPS = (RateLimitedError, SourceUnreachableError)


@dataclass(slots=True)
class ToolWork:
    """One tool's records as they are gathered (kept when a later step fails)."""

    tool: Tool
    releases: list[ReleaseRecord] = field(default_factory=list)
    snapshots: list[RepoSnapshotRecord] = field(default_factory=list)
    star_weeks: list[StarWeekRecord] = field(default_factory=list)
    identities: list[RepoIdentityRecord] = field(default_factory=list)
    http_cache: list[HttpCacheRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def cache(self, response: ApiResponse | None, at: datetime) -> None:
        """Keep the validators of ``response`` (the key of later conditional requests)."""
        if response is None:
            return
        etag, modified = response.headers.get("etag"), response.headers.get("last-modified")
        if etag or modified:
            self.http_cache.append(HttpCacheRecord(response.url, etag, modified, at))

    def outcome(self) -> ToolOutcome:
        if not self.snapshots and not self.releases and not self.star_weeks:
            return ToolFailure(self.tool.id, "; ".join(self.errors) or "nothing collected")
        return ToolBatch(
            tool_id=self.tool.id,
            releases=tuple(self.releases),
            snapshots=tuple(self.snapshots),
            star_weeks=tuple(self.star_weeks),
            identities=tuple(self.identities),
            http_cache=tuple(self.http_cache),
            errors=tuple(self.errors),
            warnings=tuple(self.warnings),
            counters=tuple(sorted(self.counters.items())),
        )


def fail_message(response: ApiResponse, what: str) -> str:
    message = f": {response.message}" if response.message else ""
    return f"{what}: HTTP {response.status} from {response.url.split('?')[0]}{message}"


def _failed(response: ApiResponse, what: str) -> UpstreamError:
    return UpstreamError(
        fail_message(response, what), source=SOURCE, url=response.url, status=response.status
    )


def read_enough(page: ReleasePage, watermark: datetime | None) -> bool:
    """Return True when pages after ``page`` can hold no release new since ``watermark``."""
    if watermark is None:
        return False  # first read: every page
    if watermark.tzinfo is None:
        watermark = watermark.replace(tzinfo=UTC)
    return page.oldest_created is not None and page.oldest_created <= watermark - RELEASE_MARGIN


def unique(releases: list[ReleaseRecord]) -> list[ReleaseRecord]:
    """Return ``releases`` without repeats of a version (a list shifting while it is paged)."""
    return list({r.version: r for r in reversed(releases)}.values())[::-1]


def fresh(ctx: CollectContext, url: str) -> bool:
    """Return True when ``url`` was read (HTTP 200) within UNCHANGED_REFETCH."""
    fetched = ctx.state.http_fetched_at(url)
    if fetched is None:
        return False
    if fetched.tzinfo is None:
        fetched = fetched.replace(tzinfo=UTC)
    return ctx.now() - fetched < UNCHANGED_REFETCH


def read_releases(
    ctx: CollectContext,
    api: GitHubApi,
    work: ToolWork,
    repo: str,
    meta: tuple[RepoInfo, ReleasePage] | None,
    same_push: bool,
) -> None:
    """Add the releases new since the stored ones (GraphQL pages, or REST pages of ``repo``)."""
    watermark = ctx.state.last_release_at(work.tool.id, SOURCE)
    if meta is not None:
        work.releases.extend(unique(_graphql_releases(api, work, meta, watermark)))
        return
    key = api.absolute(f"/repos/{repo}/releases", {"per_page": fetch.RELEASES_PER_PAGE})
    if same_push and fresh(ctx, key):
        work.count("releases_skipped_unchanged")
        return
    found: list[ReleaseRecord] = []
    first: ApiResponse | None = None
    for response in fetch.fetch_release_pages(api, repo):
        first = first or response
        if response.status != 200:
            raise _failed(response, "releases")
        if not isinstance(response.data, list) or not response.data:
            break
        page = parse.parse_release_page(
            response.data, tool_id=work.tool.id, project=repo, url=response.url
        )
        found.extend(page.releases)
        if read_enough(page, watermark):
            break
    work.releases.extend(unique(found))  # all pages arrived: store them together
    work.cache(first, ctx.now())


def _graphql_releases(
    api: GitHubApi,
    work: ToolWork,
    meta: tuple[RepoInfo, ReleasePage],
    watermark: datetime | None,
) -> list[ReleaseRecord]:
    name = meta[0].full_name
    page = meta[1]
    out = list(page.releases)
    while page.has_next and not read_enough(page, watermark):
        body = fetch.fetch_graphql_releases(api, name, page.end_cursor)
        data = body.get("data")
        repo = data.get("repository") if isinstance(data, dict) else None
        connection = repo.get("releases") if isinstance(repo, dict) else None
        if not isinstance(connection, dict):
            raise UpstreamError(
                f"GraphQL releases page for {name} has no data",
                source=SOURCE,
                url=api.graphql_url,
            )
        page = parse.parse_graphql_releases(
            connection, tool_id=work.tool.id, project=name, url=api.graphql_url
        )
        out.extend(page.releases)
    return out


def read_star_history(
    ctx: CollectContext, api: GitHubApi, work: ToolWork, repo: str, same_stars: bool
) -> None:
    """Add the weeks of ``repo``'s star history down to the newest stored one."""
    key = api.absolute(f"/repos/{repo}/stargazers/history", {"per_page": fetch.HISTORY_PER_PAGE})
    if same_stars and fresh(ctx, key):
        work.count("star_history_skipped_unchanged")
        return
    tool = work.tool
    cursor = ctx.state.last_star_week(tool.id, SOURCE)
    etag = ctx.state.http_validators(key)[0] if cursor else None
    weeks: dict[date, int] = {}
    first: ApiResponse | None = None
    for page in fetch.fetch_star_history_pages(api, repo, etag=etag):
        if first is None:
            first = page
            if page.status == 304:
                work.count("star_history_not_modified")
                return
            if page.status in HISTORY_UNAVAILABLE:
                _snapshot_week(ctx, work, repo, page)
                return
        if page.status != 200:
            raise _failed(page, "star history")
        rows = parse.parse_star_history(page.data, url=page.url)
        if not rows:
            break  # an empty page ends the history
        weeks.update(rows)
        if cursor is not None and min(rows) <= cursor:
            break  # reached what is stored: the newest stored week is refreshed too
    _store_weeks(ctx, work, repo, weeks, first, backfill=cursor is None)


def _store_weeks(
    ctx: CollectContext,
    work: ToolWork,
    repo: str,
    weeks: dict[date, int],
    first: ApiResponse | None,
    *,
    backfill: bool,
) -> None:
    """Keep every page's weeks together (a cut backfill would leave a hole)."""
    tool = work.tool
    work.star_weeks.extend(
        StarWeekRecord(tool.id, repo, week, total, SOURCE) for week, total in sorted(weeks.items())
    )
    work.count("star_weeks", len(weeks))
    work.cache(first, ctx.now())
    stars = work.snapshots[0].stars if work.snapshots else None
    if backfill and stars and weeks:
        total = sum(weeks.values())
        if abs(total - stars) > GAP_WARNING_SHARE * stars:
            work.warnings.append(
                f"star history sums to {total} but the repo shows {stars} stars"
                " (deleted accounts, unstars or an incomplete history)"
            )


def _snapshot_week(ctx: CollectContext, work: ToolWork, repo: str, response: ApiResponse) -> None:
    """Record the missing endpoint and derive this week's gain from snapshots."""
    tool = work.tool
    reason = fail_message(response, f"star history unavailable for {repo}")
    now = ctx.now()
    since = datetime.combine(parse.week_start_of(now), datetime.min.time(), UTC)
    earlier = ctx.state.recent_snapshots(tool.id, since - timedelta(days=7))
    current = work.snapshots[0].stars if work.snapshots else None
    derived = parse.snapshot_week(now, current, earlier)
    if derived is None:
        work.errors.append(
            f"{reason}; no snapshot-derived week yet (needs two snapshots a week apart at most)"
        )
        return
    week, gained = derived
    work.star_weeks.append(StarWeekRecord(tool.id, repo, week, gained, "snapshot"))
    work.count("star_weeks_from_snapshots")
    work.errors.append(
        f"{reason}; stored the week of {week} derived from snapshots (source='snapshot')"
    )


def guarded(work: ToolWork, label: str, step: Callable[[], None]) -> None:
    """Run one step of a tool; its upstream or parse error becomes an error line of the tool."""
    try:
        step()
    except STOPS:
        raise
    except TrackerError as exc:
        work.errors.append(f"{label}: {exc}")
