"""GitHub: repo snapshots, exact weekly star history, published releases, renames, rate limits.

Per tool and run:
- metadata + releases: with a token, one GraphQL request per ``batch_size`` repos (aliases);
  without a token (or when a GraphQL request fails), REST ``GET /repos/{o}/{r}`` (conditional,
  ETag in ``http_cache``) and ``GET /repos/{o}/{r}/releases``;
- star history: ``GET /repos/{o}/{r}/stargazers/history`` (weekly counts, newest first,
  30 weeks a page): every page on the first run, then pages until the stored newest week, the
  first one conditional. Where the endpoint answers 403/404/410/501 (older GitHub Enterprise),
  the tool gets an error line and a week row derived from snapshots (``source='snapshot'``).
- releases are sorted by creation (the tagged commit's date), not publication: after the first
  run, pages are read until one holds only releases created ``RELEASE_MARGIN`` before the newest
  stored publication, so a release published today for an older commit is not missed.
Each tool runs under ``isolate``: an unexpected error fails that tool only. A rate limit that
will not reset soon, or an unreachable host, stops the source; the tools left get one line each.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar

import httpx

from tracker.catalog import Tool
from tracker.collectors.base import CollectContext, isolate, register
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

__all__ = ["GithubCollector"]

log = logging.getLogger(__name__)

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

_Batch = tuple[dict[str, tuple[RepoInfo, ReleasePage]], dict[str, str]]  # by tool id
_STOPS = (RateLimitedError, SourceUnreachableError)


@dataclass(slots=True)
class _Work:
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


@dataclass(slots=True)
class _Run:
    """Why the source stopped (a far rate-limit reset, an unreachable host), once it has."""

    reason: str | None = None
    unreachable: SourceUnreachableError | None = None

    def stop(self, exc: RateLimitedError | SourceUnreachableError) -> str:
        """Record the stop; return the text a tool's error line gives for it."""
        if isinstance(exc, SourceUnreachableError):
            self.reason, self.unreachable = exc.reason, exc
            return str(exc)  # names the URL this tool asked for
        self.reason = exc.reason
        return exc.reason

    def failure(self, tool: Tool, api: GitHubApi) -> ToolFailure:
        """Return the failure of a tool not tried after the stop (naming its own repo URL)."""
        if self.unreachable is not None:
            url = api.absolute(f"/repos/{tool.github}")
            return ToolFailure(tool.id, self.unreachable.for_url(url).not_collected)
        return ToolFailure(tool.id, f"not collected: {self.reason}")


def _fail_message(response: ApiResponse, what: str) -> str:
    message = f": {response.message}" if response.message else ""
    return f"{what}: HTTP {response.status} from {response.url.split('?')[0]}{message}"


def _read_enough(page: ReleasePage, watermark: datetime | None) -> bool:
    """Return True when pages after ``page`` can hold no release new since ``watermark``."""
    if watermark is None:
        return False  # first read: every page
    if watermark.tzinfo is None:
        watermark = watermark.replace(tzinfo=UTC)
    return page.oldest_created is not None and page.oldest_created <= watermark - RELEASE_MARGIN


def _unique(releases: list[ReleaseRecord]) -> list[ReleaseRecord]:
    """Return ``releases`` without repeats of a version (a list shifting while it is paged)."""
    return list({r.version: r for r in reversed(releases)}.values())[::-1]


@register(SOURCE)
class GithubCollector:
    """Collects GitHub snapshots, star history and releases; serial, rate-limit aware."""

    name: ClassVar[str] = SOURCE

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        *,
        batch_size: int = 20,
        max_rate_wait: float = 300.0,
        backoff_base: float = 1.0,
    ) -> None:
        self.transport = transport
        self.batch_size = max(1, batch_size)
        self.max_rate_wait = max_rate_wait
        self.backoff_base = backoff_base

    def applicable(self, tool: Tool) -> bool:
        """Return True when the tool names a GitHub repo."""
        return bool(tool.github)

    def collect(self, ctx: CollectContext, tools: Sequence[Tool]) -> Iterator[ToolOutcome]:
        """Yield one outcome per tool; after a stop, one failure per remaining tool."""
        api = GitHubApi(
            ctx,
            transport=self.transport,
            max_rate_wait=self.max_rate_wait,
            backoff_base=self.backoff_base,
        )
        run = _Run()
        done: set[str] = set()
        with api:
            try:
                for outcome in self._chunks(ctx, api, run, tools):
                    done.add(outcome.tool_id)
                    yield outcome
            finally:
                log.info("github: rate limits after the run: %s", api.rates.summary() or "unknown")
        if run.reason is not None:
            yield from (run.failure(tool, api) for tool in tools if tool.id not in done)

    def _chunks(
        self, ctx: CollectContext, api: GitHubApi, run: _Run, tools: Sequence[Tool]
    ) -> Iterator[ToolOutcome]:
        token = ctx.settings.github_token
        size = self.batch_size if token else 1
        for start in range(0, len(tools), size):
            chunk = tools[start : start + size]
            batch = self._graphql_batch(api, run, chunk) if token else None
            if run.unreachable is not None:  # the tool whose batch asked: its own line
                yield ToolFailure(chunk[0].id, run.unreachable.not_collected)
            if run.reason is not None:
                return
            for tool in chunk:
                one = functools.partial(self._one, ctx, api, run, tool, batch)
                yield isolate(tool.id, one)
                if run.reason is not None or ctx.stop_requested():
                    return

    def _graphql_batch(self, api: GitHubApi, run: _Run, chunk: Sequence[Tool]) -> _Batch | None:
        """Return metadata and first release pages of ``chunk`` by tool id; None: use REST."""
        aliases = {f"r{i}": (tool.id, str(tool.github)) for i, tool in enumerate(chunk)}
        try:
            body = fetch.fetch_graphql_batch(api, [str(t.github) for t in chunk])
            batch = parse.parse_graphql_batch(body, aliases, url=api.graphql_url)
        except _STOPS as exc:
            run.stop(exc)
            return None
        except TrackerError as exc:
            log.warning("github: GraphQL failed, using REST for %d repos: %s", len(chunk), exc)
            return None
        found = {aliases[a][0]: meta for a, meta in batch.repos.items()}
        return found, {aliases[a][0]: why for a, why in batch.missing.items()}

    def _one(
        self, ctx: CollectContext, api: GitHubApi, run: _Run, tool: Tool, batch: _Batch | None
    ) -> ToolOutcome:
        """Return one tool's outcome; a stop keeps what was read and says what was not."""
        work = _Work(tool)
        if batch is not None and tool.id in batch[1]:
            return ToolFailure(tool.id, batch[1][tool.id])
        meta = batch[0].get(tool.id) if batch is not None else None
        try:
            self._tool(ctx, api, work, meta)
        except _STOPS as exc:
            why = run.stop(exc)
            partly = work.snapshots or work.releases or work.star_weeks
            work.errors.append(f"not {'fully ' if partly else ''}collected: {why}")
        except TrackerError as exc:
            work.errors.append(str(exc))
        return work.outcome()

    def _tool(
        self,
        ctx: CollectContext,
        api: GitHubApi,
        work: _Work,
        meta: tuple[RepoInfo, ReleasePage] | None,
    ) -> None:
        tool = work.tool
        catalog_name = str(tool.github)
        previous = ctx.state.latest_snapshot_record(tool.id)
        if meta is not None:
            info: RepoInfo | None = meta[0]
            work.snapshots.append(parse.snapshot_record(tool.id, meta[0], ctx.now()))
        else:
            info = self._rest_repo(ctx, api, work, previous)
        if not work.snapshots:
            return
        now_snap = work.snapshots[0]
        current = now_snap.repo
        if info is not None:
            work.identities.append(parse.identity_record(tool.id, info, catalog_name))
        if current.lower() != catalog_name.lower():
            work.warnings.append(
                f"catalog says {catalog_name}, GitHub says {current}: update the catalog"
            )
            work.count("renamed_repos")
        same_push = previous is not None and (previous.pushed_at, previous.archived) == (
            now_snap.pushed_at,
            now_snap.archived,
        )
        same_stars = previous is not None and previous.stars == now_snap.stars
        _guarded(work, "releases", lambda: self._releases(ctx, api, work, current, meta, same_push))
        _guarded(work, "star history", lambda: self._history(ctx, api, work, current, same_stars))

    @staticmethod
    def _fresh(ctx: CollectContext, url: str) -> bool:
        """Return True when ``url`` was read (HTTP 200) within UNCHANGED_REFETCH."""
        fetched = ctx.state.http_fetched_at(url)
        if fetched is None:
            return False
        if fetched.tzinfo is None:
            fetched = fetched.replace(tzinfo=UTC)
        return ctx.now() - fetched < UNCHANGED_REFETCH

    def _rest_repo(
        self, ctx: CollectContext, api: GitHubApi, work: _Work, previous: RepoSnapshotRecord | None
    ) -> RepoInfo | None:
        """Fetch the repo (conditionally); fill the snapshot; return None after a 304."""
        tool = work.tool
        key = api.absolute(f"/repos/{tool.github}")
        etag = ctx.state.http_validators(key)[0] if previous else None
        response = fetch.fetch_repo(api, str(tool.github), etag=etag)
        if response.status == 304 and previous is not None:
            # unchanged since the stored snapshot: the server confirms the same counters now
            work.snapshots.append(replace(previous, observed_at=ctx.now()))
            work.count("repos_not_modified")
            return None
        if response.status == 404:
            work.errors.append(
                f"repo {tool.github} not found (HTTP 404 from {response.url}):"
                " check the catalog's github field"
            )
            return None
        if response.status != 200:
            work.errors.append(_fail_message(response, f"repo {tool.github}"))
            return None
        info = parse.parse_repo(response.data, url=response.url)
        work.snapshots.append(parse.snapshot_record(tool.id, info, ctx.now()))
        work.cache(response, ctx.now())
        return info

    def _releases(
        self,
        ctx: CollectContext,
        api: GitHubApi,
        work: _Work,
        repo: str,
        meta: tuple[RepoInfo, ReleasePage] | None,
        same_push: bool,
    ) -> None:
        watermark = ctx.state.last_release_at(work.tool.id, SOURCE)
        if meta is not None:
            work.releases.extend(_unique(self._graphql_releases(api, work, meta, watermark)))
            return
        key = api.absolute(f"/repos/{repo}/releases", {"per_page": fetch.RELEASES_PER_PAGE})
        if same_push and self._fresh(ctx, key):
            work.count("releases_skipped_unchanged")
            return
        found: list[ReleaseRecord] = []
        first: ApiResponse | None = None
        for response in fetch.fetch_release_pages(api, repo):
            first = first or response
            if response.status != 200:
                raise UpstreamError(
                    _fail_message(response, "releases"),
                    source=SOURCE,
                    url=response.url,
                    status=response.status,
                )
            if not isinstance(response.data, list) or not response.data:
                break
            page = parse.parse_release_page(
                response.data, tool_id=work.tool.id, project=repo, url=response.url
            )
            found.extend(page.releases)
            if _read_enough(page, watermark):
                break
        work.releases.extend(_unique(found))  # all pages arrived: store them together
        work.cache(first, ctx.now())

    def _graphql_releases(
        self,
        api: GitHubApi,
        work: _Work,
        meta: tuple[RepoInfo, ReleasePage],
        watermark: datetime | None,
    ) -> list[ReleaseRecord]:
        name = meta[0].full_name
        page = meta[1]
        out = list(page.releases)
        while page.has_next and not _read_enough(page, watermark):
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

    def _history(
        self, ctx: CollectContext, api: GitHubApi, work: _Work, repo: str, same_stars: bool
    ) -> None:
        key = api.absolute(
            f"/repos/{repo}/stargazers/history", {"per_page": fetch.HISTORY_PER_PAGE}
        )
        if same_stars and self._fresh(ctx, key):
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
                    self._snapshot_week(ctx, work, repo, page)
                    return
            if page.status != 200:
                raise UpstreamError(
                    _fail_message(page, "star history"),
                    source=SOURCE,
                    url=page.url,
                    status=page.status,
                )
            rows = parse.parse_star_history(page.data, url=page.url)
            if not rows:
                break  # an empty page ends the history
            weeks.update(rows)
            if cursor is not None and min(rows) <= cursor:
                break  # reached what is stored: the newest stored week is refreshed too
        self._store_weeks(ctx, work, repo, weeks, first, backfill=cursor is None)

    def _store_weeks(
        self,
        ctx: CollectContext,
        work: _Work,
        repo: str,
        weeks: dict[date, int],
        first: ApiResponse | None,
        *,
        backfill: bool,
    ) -> None:
        """Keep every page's weeks together (a cut backfill would leave a hole)."""
        tool = work.tool
        work.star_weeks.extend(
            StarWeekRecord(tool.id, repo, week, total, SOURCE)
            for week, total in sorted(weeks.items())
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

    def _snapshot_week(
        self, ctx: CollectContext, work: _Work, repo: str, response: ApiResponse
    ) -> None:
        """Record the missing endpoint and derive this week's gain from snapshots."""
        tool = work.tool
        reason = _fail_message(response, f"star history unavailable for {repo}")
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


def _guarded(work: _Work, label: str, step: Callable[[], None]) -> None:
    """Run one step of a tool; its upstream or parse error becomes an error line of the tool."""
    try:
        step()
    except _STOPS:
        raise
    except TrackerError as exc:
        work.errors.append(f"{label}: {exc}")
