"""GitHub payloads -> typed records: pure functions, no HTTP, no clock, no warehouse.

Docs: https://docs.github.com/rest/repos/repos#get-a-repository ,
https://docs.github.com/rest/releases/releases#list-releases ,
https://docs.github.com/rest/activity/starring?apiVersion=2026-03-10 ,
https://docs.github.com/graphql/guides/forming-calls-with-graphql
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from packaging.version import InvalidVersion, Version

from tracker.errors import ParseError
from tracker.records import ReleaseRecord, RepoIdentityRecord, RepoSnapshotRecord

__all__ = [
    "GraphqlBatch",
    "ReleasePage",
    "RepoInfo",
    "identity_record",
    "nearest_sunday",
    "parse_graphql_batch",
    "parse_graphql_releases",
    "parse_graphql_repo",
    "parse_release_page",
    "parse_releases",
    "parse_repo",
    "parse_star_history",
    "snapshot_record",
    "snapshot_week",
    "week_start_of",
]

SOURCE = "github"
_SUNDAY_ZERO = datetime(1970, 1, 4, tzinfo=UTC)  # the first Sunday of the Unix epoch
_WEEK = timedelta(days=7)


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


@dataclass(frozen=True, slots=True)
class ReleasePage:
    """One page of releases: the published ones, and the oldest creation time on the page (UTC;
    None when the page gives none). GitHub sorts releases by ``created_at`` (the tagged commit's
    date), not by publication."""

    releases: list[ReleaseRecord]
    oldest_created: datetime | None
    has_next: bool = False  # GraphQL pageInfo (REST pages follow the Link header instead)
    end_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class GraphqlBatch:
    """A batched GraphQL answer: each alias's repo and first release page, or why it has none."""

    repos: dict[str, tuple[RepoInfo, ReleasePage]]
    missing: dict[str, str]  # alias -> the tool's error (NOT_FOUND, no data, a parse error)


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


def _lenient_time(value: object) -> datetime | None:
    try:
        return _time(value, "", "")
    except ParseError:
        return None


# RepoInfo field -> its key in a REST payload, in a GraphQL node (errors name "repository.<key>")
_REPO_KEYS = {
    "repo_id": ("id", "databaseId"),
    "full_name": ("full_name", "nameWithOwner"),
    "created_at": ("created_at", "createdAt"),
    "stars": ("stargazers_count", "stargazerCount"),
    "forks": ("forks_count", "forkCount"),
    "archived": ("archived", "isArchived"),
    "pushed_at": ("pushed_at", "pushedAt"),
}


def _repo_info(
    node: dict[str, object],
    url: str,
    *,
    graphql: bool,
    open_issues: int | None,
    watchers: int | None,
) -> RepoInfo:
    """Return the fields of a REST payload or GraphQL node, found by ``_REPO_KEYS``."""
    keys = {name: pair[graphql] for name, pair in _REPO_KEYS.items()}
    where = {name: ("repository." if graphql else "") + key for name, key in keys.items()}
    repo_id, full_name = _int(node.get(keys["repo_id"])), node.get(keys["full_name"])
    if repo_id is None:
        raise ParseError(
            "missing or not an integer", source=SOURCE, field=where["repo_id"], url=url
        )
    if not isinstance(full_name, str) or "/" not in full_name:
        raise ParseError(
            "missing or not owner/name", source=SOURCE, field=where["full_name"], url=url
        )
    archived = node.get(keys["archived"])
    return RepoInfo(
        repo_id=repo_id,
        full_name=full_name,
        created_at=_time(node.get(keys["created_at"]), where["created_at"], url),
        description=_text(node.get("description")),
        stars=_int(node.get(keys["stars"])),
        forks=_int(node.get(keys["forks"])),
        open_issues=open_issues,
        watchers=watchers,
        archived=archived if isinstance(archived, bool) else None,
        pushed_at=_time(node.get(keys["pushed_at"]), where["pushed_at"], url),
    )


def parse_repo(payload: object, *, url: str) -> RepoInfo:
    """Return the fields of a REST ``GET /repos/{owner}/{repo}`` payload."""
    if not isinstance(payload, dict):
        raise ParseError("payload is not a JSON object", source=SOURCE, field="$", url=url)
    return _repo_info(
        payload,
        url,
        graphql=False,
        open_issues=_int(payload.get("open_issues_count")),
        watchers=_int(payload.get("subscribers_count")),
    )


def parse_graphql_repo(node: object, *, url: str) -> RepoInfo:
    """Return the fields of one GraphQL ``repository`` alias (see graphql.py)."""
    if not isinstance(node, dict):
        raise ParseError("not an object", source=SOURCE, field="repository", url=url)
    issues, pulls = _count(node.get("issues")), _count(node.get("pullRequests"))
    # REST's open_issues_count counts issues and pull requests together
    both = issues + pulls if issues is not None and pulls is not None else None
    return _repo_info(
        node, url, graphql=True, open_issues=both, watchers=_count(node.get("watchers"))
    )


def _version_valid(tag: str) -> bool:
    try:
        Version(tag)
    except (InvalidVersion, ValueError):  # ValueError: > 4,300 digits (int conversion limit)
        return False
    return True


def _release_keys(graphql: bool) -> tuple[str, str, str, str, str]:
    if graphql:
        return "tagName", "publishedAt", "isPrerelease", "isDraft", "createdAt"
    return "tag_name", "published_at", "prerelease", "draft", "created_at"


def parse_releases(
    items: object, *, tool_id: str, project: str, url: str, graphql: bool = False
) -> list[ReleaseRecord]:
    """Return the published (non-draft) releases of one page, REST or GraphQL field names."""
    return parse_release_page(
        items, tool_id=tool_id, project=project, url=url, graphql=graphql
    ).releases


def parse_release_page(
    items: object, *, tool_id: str, project: str, url: str, graphql: bool = False
) -> ReleasePage:
    """Return one page's published releases and its oldest ``created_at``."""
    if not isinstance(items, list):
        raise ParseError("not a list", source=SOURCE, field="releases", url=url)
    tag_key, pub_key, pre_key, draft_key, created_key = _release_keys(graphql)
    out = []
    created: list[datetime] = []
    for item in items:
        if not isinstance(item, dict):
            raise ParseError("not an object", source=SOURCE, field="releases[]", url=url)
        tag = item.get(tag_key)
        if not isinstance(tag, str) or not tag:
            raise ParseError("missing", source=SOURCE, field=f"releases[].{tag_key}", url=url)
        published = _time(item.get(pub_key), f"releases[].{pub_key}", url)
        # created_at only steers paging: an odd value must not lose the release
        stamp = _lenient_time(item.get(created_key)) or published
        if stamp is not None:
            created.append(stamp)
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
    return ReleasePage(out, min(created) if created else None)


def parse_graphql_releases(
    connection: object, *, tool_id: str, project: str, url: str
) -> ReleasePage:
    """Return a GraphQL ``releases`` connection as a page (with its pageInfo)."""
    if not isinstance(connection, dict):
        raise ParseError("missing", source=SOURCE, field="repository.releases", url=url)
    info = connection.get("pageInfo")
    info = info if isinstance(info, dict) else {}
    page = parse_release_page(
        connection.get("nodes") or [], tool_id=tool_id, project=project, url=url, graphql=True
    )
    return ReleasePage(
        page.releases,
        page.oldest_created,
        has_next=info.get("hasNextPage") is True,
        end_cursor=_text(info.get("endCursor")),
    )


def parse_graphql_batch(
    body: dict[str, object], tools: Mapping[str, tuple[str, str]], *, url: str
) -> GraphqlBatch:
    """Return each alias's repo and first release page from a batch answer (see graphql.py).

    ``tools`` maps each alias to (tool id, catalog repo name). A missing repo answers ``null`` with an error
    ``{"type": "NOT_FOUND", "path": ["r0"]}``; the other aliases are valid. An error naming no
    alias, with no data at all, is a ParseError.
    """
    data = body.get("data")
    data = data if isinstance(data, dict) else {}
    errors = body.get("errors")
    alias_errors: dict[str, str] = {}
    for err in errors if isinstance(errors, list) else []:
        if not isinstance(err, dict):
            continue
        path = err.get("path")
        alias = path[0] if isinstance(path, list) and path else None
        text = f"{err.get('type') or 'ERROR'}: {str(err.get('message'))[:200]}"
        if isinstance(alias, str):
            alias_errors.setdefault(alias, text)
        elif not data:
            raise ParseError(f"GraphQL error {text}", source=SOURCE, field="errors", url=url)
    repos: dict[str, tuple[RepoInfo, ReleasePage]] = {}
    missing: dict[str, str] = {}
    for alias, (tool_id, name) in tools.items():
        node = data.get(alias)
        if alias in alias_errors or not isinstance(node, dict):
            reason = alias_errors.get(alias, "no data")
            missing[alias] = f"repo {name} not found or not readable (GraphQL {reason})"
            continue
        try:
            info = parse_graphql_repo(node, url=url)
            releases = node.get("releases")
            page = parse_graphql_releases(
                releases if isinstance(releases, dict) else {},
                tool_id=tool_id,
                project=info.full_name,
                url=url,
            )
        except ParseError as exc:
            missing[alias] = str(exc)
            continue
        repos[alias] = (info, page)
    return GraphqlBatch(repos, missing)


def nearest_sunday(moment: datetime) -> date:
    """Return the Sunday (a UTC date) whose 00:00 UTC is nearest to ``moment``.

    GitHub's star-history weeks are "not guaranteed to align with UTC": a week starting Sunday
    00:00 in UTC-8 arrives as Sunday 08:00 UTC, one in UTC+9 as Saturday 15:00 UTC; both are
    that Sunday's week.
    """
    weeks = (moment - _SUNDAY_ZERO + _WEEK / 2) // _WEEK
    return (_SUNDAY_ZERO + weeks * _WEEK).date()


def parse_star_history(payload: object, *, url: str) -> dict[date, int]:
    """Return {week start (the nearest Sunday, UTC date): stars added} from one history page."""
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
            day = nearest_sunday(datetime.fromtimestamp(week, UTC))
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


def snapshot_record(tool_id: str, info: RepoInfo, observed_at: datetime) -> RepoSnapshotRecord:
    """Return the snapshot of ``info`` observed at ``observed_at`` (UTC)."""
    return RepoSnapshotRecord(
        tool_id=tool_id,
        repo=info.full_name,
        observed_at=observed_at,
        stars=info.stars,
        forks=info.forks,
        open_issues=info.open_issues,
        watchers=info.watchers,
        archived=info.archived,
        pushed_at=info.pushed_at,
    )


def identity_record(tool_id: str, info: RepoInfo, catalog_name: str) -> RepoIdentityRecord:
    """Return the stable identity (numeric id, current name) of the catalog's repo."""
    return RepoIdentityRecord(
        tool_id=tool_id,
        repo_id=info.repo_id,
        full_name=info.full_name,
        catalog_name=catalog_name,
        created_at=info.created_at,
        description=info.description,
    )


def snapshot_week(
    now: datetime, current: int | None, earlier: Sequence[RepoSnapshotRecord]
) -> tuple[date, int] | None:
    """Return (this week's Sunday, stars gained) derived from snapshots, or None without a pair.

    The gain is counted since the last snapshot before this week (at most a week old), else
    since the first snapshot of this week.
    """
    week = week_start_of(now)
    week_dt = datetime(week.year, week.month, week.day, tzinfo=UTC)
    before = [s for s in earlier if s.observed_at < week_dt and s.stars is not None]
    within = [s for s in earlier if s.observed_at >= week_dt and s.stars is not None]
    baseline = before[-1] if before else within[0] if within else None
    if current is None or baseline is None or baseline.stars is None:
        return None
    return week, current - baseline.stars
