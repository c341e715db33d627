"""GitHub: repo snapshots, exact weekly star history, published releases, renames, rate limits.

Per tool and run:
- metadata + releases: with a token, one GraphQL request per ``batch_size`` repos (aliases);
  without a token (or when a GraphQL request fails), REST ``GET /repos/{o}/{r}`` and
  ``GET /repos/{o}/{r}/releases``, both conditional (ETag in ``http_cache``);
- star history: ``GET /repos/{o}/{r}/stargazers/history`` (weekly counts, newest first,
  30 weeks a page): every page on the first run, then pages until the stored newest week, the
  first one conditional. Where the endpoint answers 403/404/410/501 (older GitHub Enterprise),
  the tool gets an error line and a week row derived from snapshots (``source='snapshot'``).
Docs: https://docs.github.com/rest/repos/repos#get-a-repository ,
https://docs.github.com/rest/releases/releases#list-releases ,
https://docs.github.com/rest/activity/starring?apiVersion=2026-03-10
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from packaging.version import InvalidVersion, Version

from tracker.catalog import Tool
from tracker.collectors._github_graphql import batch_query, releases_query
from tracker.collectors._github_http import ApiResponse, GitHubApi
from tracker.collectors.base import CollectContext, register
from tracker.errors import (
    ParseError,
    RateLimitedError,
    SourceUnreachableError,
    TrackerError,
    UpstreamError,
)
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

if TYPE_CHECKING:
    import requests

__all__ = [
    "GithubCollector",
    "RepoInfo",
    "parse_graphql_repo",
    "parse_releases",
    "parse_repo",
    "parse_star_history",
    "week_start_of",
]

log = logging.getLogger(__name__)

SOURCE = "github"
HISTORY_PER_PAGE = 30
# statuses meaning "this server has no star-history endpoint for us": use snapshots instead
HISTORY_UNAVAILABLE = frozenset({403, 404, 410, 501})
# a full backfill whose sum differs from stargazers_count by more than this share is flagged
GAP_WARNING_SHARE = 0.10
# When the repo answers unchanged (same stars / same pushed_at as the stored snapshot), the star
# history and the release list are not asked for again if they were read within this window:
# an unchanged repo costs one (usually 304) request a run; every list is re-read at least weekly
# (a release published from an existing tag does not move pushed_at).
UNCHANGED_REFETCH = timedelta(days=7)


# ---- parsing (pure) ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RepoInfo:
    """A repository's identity and counters as one response reports them (times UTC)."""

    repo_id: int
    full_name: str
    created_at: datetime | None
    description: str | None
    stars: int | None
    forks: int | None
    open_issues: int | None
    watchers: int | None
    archived: bool | None
    pushed_at: datetime | None


def _time(value: object, field_name: str, url: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParseError("not a timestamp", source=SOURCE, field=field_name, url=url)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 with an offset
        raise ParseError(
            f"not an ISO 8601 timestamp: {value[:40]!r}", source=SOURCE, field=field_name, url=url
        ) from None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _count(value: object) -> int | None:
    return _int(value.get("totalCount")) if isinstance(value, dict) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def parse_repo(payload: object, *, url: str) -> RepoInfo:
    """Return the fields of a REST ``GET /repos/{owner}/{repo}`` payload."""
    if not isinstance(payload, dict):
        raise ParseError("payload is not a JSON object", source=SOURCE, field="$", url=url)
    repo_id = _int(payload.get("id"))
    full_name = payload.get("full_name")
    if repo_id is None:
        raise ParseError("missing or not an integer", source=SOURCE, field="id", url=url)
    if not isinstance(full_name, str) or "/" not in full_name:
        raise ParseError("missing or not owner/name", source=SOURCE, field="full_name", url=url)
    archived = payload.get("archived")
    return RepoInfo(
        repo_id=repo_id,
        full_name=full_name,
        created_at=_time(payload.get("created_at"), "created_at", url),
        description=_text(payload.get("description")),
        stars=_int(payload.get("stargazers_count")),
        forks=_int(payload.get("forks_count")),
        open_issues=_int(payload.get("open_issues_count")),
        watchers=_int(payload.get("subscribers_count")),
        archived=archived if isinstance(archived, bool) else None,
        pushed_at=_time(payload.get("pushed_at"), "pushed_at", url),
    )


def parse_graphql_repo(node: object, *, url: str) -> RepoInfo:
    """Return the fields of one GraphQL ``repository`` alias (see _github_graphql)."""
    if not isinstance(node, dict):
        raise ParseError("not an object", source=SOURCE, field="repository", url=url)
    repo_id = _int(node.get("databaseId"))
    full_name = node.get("nameWithOwner")
    if repo_id is None:
        raise ParseError("missing", source=SOURCE, field="repository.databaseId", url=url)
    if not isinstance(full_name, str) or "/" not in full_name:
        raise ParseError("missing", source=SOURCE, field="repository.nameWithOwner", url=url)
    issues, pulls = _count(node.get("issues")), _count(node.get("pullRequests"))
    archived = node.get("isArchived")
    return RepoInfo(
        repo_id=repo_id,
        full_name=full_name,
        created_at=_time(node.get("createdAt"), "repository.createdAt", url),
        description=_text(node.get("description")),
        stars=_int(node.get("stargazerCount")),
        forks=_int(node.get("forkCount")),
        # REST's open_issues_count counts issues and pull requests together
        open_issues=issues + pulls if issues is not None and pulls is not None else None,
        watchers=_count(node.get("watchers")),
        archived=archived if isinstance(archived, bool) else None,
        pushed_at=_time(node.get("pushedAt"), "repository.pushedAt", url),
    )


def _version_valid(tag: str) -> bool:
    try:
        Version(tag)
    except (InvalidVersion, ValueError):  # ValueError: > 4,300 digits (int conversion limit)
        return False
    return True


def parse_releases(
    items: object, *, tool_id: str, project: str, url: str, graphql: bool = False
) -> list[ReleaseRecord]:
    """Return the published (non-draft) releases of one page, REST or GraphQL field names."""
    if not isinstance(items, list):
        raise ParseError("not a list", source=SOURCE, field="releases", url=url)
    tag_key, pub_key, pre_key, draft_key = (
        ("tagName", "publishedAt", "isPrerelease", "isDraft")
        if graphql
        else ("tag_name", "published_at", "prerelease", "draft")
    )
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise ParseError("not an object", source=SOURCE, field="releases[]", url=url)
        tag = item.get(tag_key)
        if not isinstance(tag, str) or not tag:
            raise ParseError("missing", source=SOURCE, field=f"releases[].{tag_key}", url=url)
        published = _time(item.get(pub_key), f"releases[].{pub_key}", url)
        if item.get(draft_key) is True or published is None:
            continue  # drafts are not releases (and have no published_at)
        out.append(
            ReleaseRecord(
                tool_id=tool_id,
                source=SOURCE,
                project=project,
                version=tag,
                released_at=published,
                is_prerelease=item.get(pre_key) is True,
                is_yanked=False,
                version_valid=_version_valid(tag),
                title=_text(item.get("name")),
            )
        )
    return out


def parse_star_history(payload: object, *, url: str) -> dict[date, int]:
    """Return {week_start (UTC date): stars added} from one star-history page."""
    if not isinstance(payload, list):
        raise ParseError("payload is not a JSON array", source=SOURCE, field="$", url=url)
    weeks: dict[date, int] = {}
    for item in payload:
        if not isinstance(item, dict):
            raise ParseError("not an object", source=SOURCE, field="[]", url=url)
        week, total = _int(item.get("week")), _int(item.get("total"))
        if week is None:
            raise ParseError("missing or not unix seconds", source=SOURCE, field="[].week", url=url)
        if total is None:
            raise ParseError("missing or not an integer", source=SOURCE, field="[].total", url=url)
        try:
            day = datetime.fromtimestamp(week, UTC).date()
        except (OverflowError, ValueError, OSError):
            raise ParseError(
                f"week {week} is out of range", source=SOURCE, field="[].week", url=url
            ) from None
        weeks[day] = total  # may be negative (unstars)
    return weeks


def week_start_of(moment: datetime) -> date:
    """Return the Sunday (UTC) that starts the week containing ``moment``."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=(day.weekday() + 1) % 7)


# ---- collection --------------------------------------------------------------------------------


class _Stop(Exception):
    """Raised inside a tool when the whole source must stop (rate limit, unreachable host)."""

    def __init__(self, message: str, unreachable: SourceUnreachableError | None = None) -> None:
        super().__init__(message)
        self.unreachable = unreachable


@dataclass(slots=True)
class _Meta:
    """What GraphQL said about one repo: counters, newest releases, paging state."""

    info: RepoInfo
    releases: list[ReleaseRecord]
    has_next: bool
    end_cursor: str | None


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


def _fail_message(response: ApiResponse, what: str) -> str:
    message = ""
    if isinstance(response.data, dict) and isinstance(response.data.get("message"), str):
        message = f": {str(response.data['message'])[:200]}"
    return f"{what}: HTTP {response.status} from {response.url.split('?')[0]}{message}"


def _cache_record(response: ApiResponse, at: datetime) -> HttpCacheRecord | None:
    etag = response.headers.get("etag")
    modified = response.headers.get("last-modified")
    return HttpCacheRecord(response.url, etag, modified, at) if etag or modified else None


@register(SOURCE)
class GithubCollector:
    """Collects GitHub snapshots, star history and releases; serial, rate-limit aware."""

    name: ClassVar[str] = SOURCE

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        batch_size: int = 20,
        max_rate_wait: float = 300.0,
        backoff_base: float = 1.0,
    ) -> None:
        self.session = session
        self.batch_size = max(1, batch_size)
        self.max_rate_wait = max_rate_wait
        self.backoff_base = backoff_base

    def applicable(self, tool: Tool) -> bool:
        """Return True when the tool names a GitHub repo."""
        return bool(tool.github)

    def collect(self, ctx: CollectContext, tools: Sequence[Tool]) -> Iterator[ToolOutcome]:
        """Yield one outcome per tool; after a rate-limit stop, one failure per remaining tool."""
        settings = ctx.settings
        api = GitHubApi(
            api_url=settings.github_api_url,
            graphql_url=settings.github_graphql_url,
            token=settings.github_token,
            counter=ctx.requests,
            sleep=ctx.sleep,
            now=ctx.now,
            timeout=settings.http_timeout,
            retries=settings.http_retries,
            max_rate_wait=self.max_rate_wait,
            backoff_base=self.backoff_base,
            session=self.session,
        )
        done: set[str] = set()
        stop: str | None = None
        unreachable: SourceUnreachableError | None = None
        try:
            size = self.batch_size if settings.github_token else 1
            for start in range(0, len(tools), size):
                chunk = tools[start : start + size]
                metas: dict[str, _Meta | str] = {}
                if settings.github_token:
                    try:
                        metas = self._graphql_batch(ctx, api, chunk)
                    except (RateLimitedError, SourceUnreachableError) as exc:
                        stop = exc.reason
                        if isinstance(exc, SourceUnreachableError):
                            unreachable = exc
                            done.add(chunk[0].id)  # the tool whose batch asked: its own line
                            yield ToolFailure(chunk[0].id, exc.not_collected)
                        break
                    except TrackerError as exc:
                        log.warning(
                            "github: GraphQL failed, using REST for %d repos: %s", len(chunk), exc
                        )
                for tool in chunk:
                    work = _Work(tool)
                    try:
                        self._tool(ctx, api, work, metas.get(tool.id))
                    except _Stop as exc:
                        stop, unreachable = str(exc), exc.unreachable
                        partly = work.snapshots or work.releases or work.star_weeks
                        # an unreachable host names the URL this tool asked for
                        why = str(exc.unreachable) if exc.unreachable else stop
                        work.errors.append(f"not {'fully ' if partly else ''}collected: {why}")
                    done.add(tool.id)
                    yield work.outcome()
                    if stop or ctx.stop_requested():
                        break
                if stop or ctx.stop_requested():
                    break
        finally:
            api.close()
            log.info("github: rate limits after the run: %s", api.rate_summary() or "unknown")
        if stop:
            for tool in tools:
                if tool.id not in done:
                    # each tool names its own repo URL, not the one that failed first
                    why = (
                        unreachable.for_url(api.absolute(f"/repos/{tool.github}")).not_collected
                        if unreachable
                        else f"not collected: {stop}"
                    )
                    yield ToolFailure(tool.id, why)

    # ---- GraphQL ---------------------------------------------------------------------------
    def _graphql_batch(
        self, ctx: CollectContext, api: GitHubApi, chunk: Sequence[Tool]
    ) -> dict[str, _Meta | str]:
        names = [str(t.github).split("/", 1) for t in chunk]
        query, variables = batch_query([(o, n) for o, n in names])
        response = api.graphql(query, dict(variables))
        body = self._graphql_body(api, response)
        data = body.get("data")
        data = data if isinstance(data, dict) else {}
        alias_errors: dict[str, str] = {}
        for err in body.get("errors") or []:
            if not isinstance(err, dict):
                continue
            path = err.get("path")
            alias = path[0] if isinstance(path, list) and path else None
            text = f"{err.get('type') or 'ERROR'}: {str(err.get('message'))[:200]}"
            if isinstance(alias, str):
                alias_errors.setdefault(alias, text)
            elif not data:
                raise UpstreamError(f"GraphQL error {text}", source=SOURCE, url=api.graphql_url)
        out: dict[str, _Meta | str] = {}
        for i, tool in enumerate(chunk):
            alias = f"r{i}"
            node = data.get(alias)
            if alias in alias_errors or not isinstance(node, dict):
                reason = alias_errors.get(alias, "no data")
                out[tool.id] = f"repo {tool.github} not found or not readable (GraphQL {reason})"
                continue
            try:
                info = parse_graphql_repo(node, url=api.graphql_url)
                rel = node.get("releases")
                rel = rel if isinstance(rel, dict) else {}
                page = rel.get("pageInfo") if isinstance(rel.get("pageInfo"), dict) else {}
                assert isinstance(page, dict)
                out[tool.id] = _Meta(
                    info=info,
                    releases=parse_releases(
                        rel.get("nodes") or [],
                        tool_id=tool.id,
                        project=info.full_name,
                        url=api.graphql_url,
                        graphql=True,
                    ),
                    has_next=page.get("hasNextPage") is True,
                    end_cursor=_text(page.get("endCursor")),
                )
            except ParseError as exc:
                out[tool.id] = str(exc)
        return out

    def _graphql_body(self, api: GitHubApi, response: ApiResponse) -> dict[str, Any]:
        if response.status != 200 or not isinstance(response.data, dict):
            raise UpstreamError(
                _fail_message(response, "GraphQL request failed"),
                source=SOURCE,
                url=api.graphql_url,
                status=response.status,
            )
        body = response.data
        for err in body.get("errors") or []:
            if isinstance(err, dict) and err.get("type") == "RATE_LIMITED":
                state = api.rate.get("graphql")
                reset = state.reset if state else None
                until = (
                    datetime.fromtimestamp(reset, UTC).strftime("%Y-%m-%dT%H:%MZ")
                    if reset
                    else "the next hour"
                )
                raise RateLimitedError(
                    f"GitHub GraphQL rate limit exhausted until {until} (x-ratelimit-reset);"
                    " run again after that",
                    source=SOURCE,
                    url=api.graphql_url,
                    status=200,
                )
        return body

    def _more_graphql_releases(
        self, ctx: CollectContext, api: GitHubApi, work: _Work, meta: _Meta
    ) -> list[ReleaseRecord]:
        owner, name = meta.info.full_name.split("/", 1)
        cursor = ctx.state.last_release_at(work.tool.id, SOURCE)
        out = list(meta.releases)
        has_next, after = meta.has_next, meta.end_cursor
        while has_next and not _reached(out, cursor):
            response = api.graphql(releases_query(), {"owner": owner, "name": name, "after": after})
            body = self._graphql_body(api, response)
            data = body.get("data")
            repo = data.get("repository") if isinstance(data, dict) else None
            rel = repo.get("releases") if isinstance(repo, dict) else None
            if not isinstance(rel, dict):
                raise UpstreamError(
                    f"GraphQL releases page for {meta.info.full_name} has no data",
                    source=SOURCE,
                    url=api.graphql_url,
                )
            page = rel.get("pageInfo") if isinstance(rel.get("pageInfo"), dict) else {}
            assert isinstance(page, dict)
            out.extend(
                parse_releases(
                    rel.get("nodes") or [],
                    tool_id=work.tool.id,
                    project=meta.info.full_name,
                    url=api.graphql_url,
                    graphql=True,
                )
            )
            has_next, after = page.get("hasNextPage") is True, _text(page.get("endCursor"))
        return out

    # ---- one tool --------------------------------------------------------------------------
    def _tool(
        self, ctx: CollectContext, api: GitHubApi, work: _Work, meta: _Meta | str | None
    ) -> None:
        tool = work.tool
        catalog_name = str(tool.github)
        previous = ctx.state.latest_snapshot_record(tool.id)
        try:
            if isinstance(meta, str):
                work.errors.append(meta)
                return
            if meta is not None:
                info: RepoInfo | None = meta.info
                work.snapshots.append(self._snapshot(ctx, tool, meta.info))
            else:
                info = self._rest_repo(ctx, api, work)
                if not work.snapshots:
                    return
            current = info.full_name if info else work.snapshots[0].repo
            if info is not None:
                work.identities.append(
                    RepoIdentityRecord(
                        tool_id=tool.id,
                        repo_id=info.repo_id,
                        full_name=info.full_name,
                        catalog_name=catalog_name,
                        created_at=info.created_at,
                        description=info.description,
                    )
                )
            if current.lower() != catalog_name.lower():
                work.warnings.append(
                    f"catalog says {catalog_name}, GitHub says {current}: update the catalog"
                )
                work.count("renamed_repos")
            now_snap = work.snapshots[0] if work.snapshots else None
            same_push = (
                previous is not None
                and now_snap is not None
                and (previous.pushed_at, previous.archived)
                == (now_snap.pushed_at, now_snap.archived)
            )
            same_stars = (
                previous is not None and now_snap is not None and previous.stars == now_snap.stars
            )
            try:
                if meta is not None:
                    work.releases.extend(self._more_graphql_releases(ctx, api, work, meta))
                elif same_push and self._fresh(
                    ctx, api.absolute(f"/repos/{current}/releases", {"per_page": 100})
                ):
                    work.count("releases_skipped_unchanged")
                else:
                    self._rest_releases(ctx, api, work, current)
            except (RateLimitedError, SourceUnreachableError):
                raise
            except TrackerError as exc:
                work.errors.append(f"releases: {exc}")
            history_key = api.absolute(
                f"/repos/{current}/stargazers/history", {"per_page": HISTORY_PER_PAGE}
            )
            try:
                if same_stars and self._fresh(ctx, history_key):
                    work.count("star_history_skipped_unchanged")
                else:
                    self._star_history(ctx, api, work, current)
            except (RateLimitedError, SourceUnreachableError):
                raise
            except TrackerError as exc:
                work.errors.append(f"star history: {exc}")
        except RateLimitedError as exc:
            raise _Stop(exc.reason) from exc
        except SourceUnreachableError as exc:
            raise _Stop(str(exc), unreachable=exc) from exc
        except TrackerError as exc:
            work.errors.append(str(exc))

    @staticmethod
    def _fresh(ctx: CollectContext, url: str) -> bool:
        """Return True when ``url`` was read (HTTP 200) within UNCHANGED_REFETCH."""
        fetched = ctx.state.http_fetched_at(url)
        if fetched is None:
            return False
        if fetched.tzinfo is None:
            fetched = fetched.replace(tzinfo=UTC)
        return ctx.now() - fetched < UNCHANGED_REFETCH

    def _snapshot(self, ctx: CollectContext, tool: Tool, info: RepoInfo) -> RepoSnapshotRecord:
        return RepoSnapshotRecord(
            tool_id=tool.id,
            repo=info.full_name,
            observed_at=ctx.now(),
            stars=info.stars,
            forks=info.forks,
            open_issues=info.open_issues,
            watchers=info.watchers,
            archived=info.archived,
            pushed_at=info.pushed_at,
        )

    def _rest_repo(self, ctx: CollectContext, api: GitHubApi, work: _Work) -> RepoInfo | None:
        """Fetch the repo (conditionally); fill the snapshot; return None after a 304."""
        tool = work.tool
        path = f"/repos/{tool.github}"
        previous = ctx.state.latest_snapshot_record(tool.id)
        etag = ctx.state.http_validators(api.absolute(path))[0] if previous else None
        response = api.get(path, etag=etag)
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
        info = parse_repo(response.data, url=response.url)
        work.snapshots.append(self._snapshot(ctx, tool, info))
        record = _cache_record(response, ctx.now())
        if record is not None:
            work.http_cache.append(record)
        return info

    def _rest_releases(self, ctx: CollectContext, api: GitHubApi, work: _Work, repo: str) -> None:
        tool = work.tool
        path = f"/repos/{repo}/releases"
        params = {"per_page": 100}
        cursor = ctx.state.last_release_at(tool.id, SOURCE)
        key = api.absolute(path, params)
        etag = ctx.state.http_validators(key)[0] if cursor else None
        found: list[ReleaseRecord] = []
        first: ApiResponse | None = None
        for page in api.pages(path, params, etag=etag):
            first = first or page
            if page.status == 304:
                work.count("releases_not_modified")
                return
            if page.status != 200:
                raise UpstreamError(
                    _fail_message(page, "releases"), source=SOURCE, url=page.url, status=page.status
                )
            if not isinstance(page.data, list) or not page.data:
                break
            found.extend(parse_releases(page.data, tool_id=tool.id, project=repo, url=page.url))
            if cursor is not None and _reached(found, cursor):
                break
        work.releases.extend(found)  # all pages arrived: store them together
        record = _cache_record(first, ctx.now()) if first is not None else None
        if record is not None:
            work.http_cache.append(record)

    def _star_history(self, ctx: CollectContext, api: GitHubApi, work: _Work, repo: str) -> None:
        tool = work.tool
        path = f"/repos/{repo}/stargazers/history"
        cursor = ctx.state.last_star_week(tool.id, SOURCE)
        params = {"per_page": HISTORY_PER_PAGE}
        key = api.absolute(path, params)
        etag = ctx.state.http_validators(key)[0] if cursor else None
        weeks: dict[date, int] = {}
        first: ApiResponse | None = None
        for page in api.pages(path, params, etag=etag):
            if first is None:
                first = page
                if page.status == 304:
                    work.count("star_history_not_modified")
                    return
                if page.status in HISTORY_UNAVAILABLE:
                    self._snapshot_weeks(ctx, work, repo, page)
                    return
            if page.status != 200:
                raise UpstreamError(
                    _fail_message(page, "star history"),
                    source=SOURCE,
                    url=page.url,
                    status=page.status,
                )
            rows = parse_star_history(page.data, url=page.url)
            if not rows:
                break  # an empty page ends the history
            weeks.update(rows)
            if cursor is not None and min(rows) <= cursor:
                break  # reached what is stored: the newest stored week is refreshed too
        # every page arrived: store them together (a cut backfill would leave a hole)
        work.star_weeks.extend(
            StarWeekRecord(tool.id, repo, week, total, SOURCE)
            for week, total in sorted(weeks.items())
        )
        work.count("star_weeks", len(weeks))
        record = _cache_record(first, ctx.now()) if first is not None else None
        if record is not None:
            work.http_cache.append(record)
        stars = work.snapshots[0].stars if work.snapshots else None
        if cursor is None and stars and weeks:
            total = sum(weeks.values())
            if abs(total - stars) > GAP_WARNING_SHARE * stars:
                work.warnings.append(
                    f"star history sums to {total} but the repo shows {stars} stars"
                    " (deleted accounts, unstars or an incomplete history)"
                )

    def _snapshot_weeks(
        self, ctx: CollectContext, work: _Work, repo: str, response: ApiResponse
    ) -> None:
        """Record the missing endpoint and derive this week's gain from snapshots."""
        tool = work.tool
        reason = _fail_message(response, f"star history unavailable for {repo}")
        now = ctx.now()
        week = week_start_of(now)
        week_dt = datetime(week.year, week.month, week.day, tzinfo=UTC)
        current = work.snapshots[0].stars if work.snapshots else None
        earlier = ctx.state.recent_snapshots(tool.id, week_dt - timedelta(days=7))
        before = [s for s in earlier if s.observed_at < week_dt and s.stars is not None]
        within = [s for s in earlier if s.observed_at >= week_dt and s.stars is not None]
        # the gain since the last snapshot before this week (at most a week old), else since
        # the first snapshot of this week; no pair of snapshots, no number
        baseline = before[-1] if before else within[0] if within else None
        if current is None or baseline is None or baseline.stars is None:
            work.errors.append(
                f"{reason}; no snapshot-derived week yet (needs two snapshots a week apart at most)"
            )
            return
        work.star_weeks.append(
            StarWeekRecord(tool.id, repo, week, current - baseline.stars, "snapshot")
        )
        work.count("star_weeks_from_snapshots")
        work.errors.append(
            f"{reason}; stored the week of {week} derived from snapshots (source='snapshot')"
        )


def _reached(releases: list[ReleaseRecord], cursor: datetime | None) -> bool:
    """Return True when the oldest release seen is not newer than the stored newest one."""
    if cursor is None or not releases:
        return False
    times = [r.released_at for r in releases if r.released_at is not None]
    return bool(times) and min(times) <= cursor
