"""GitHub over the shared httpx client: REST GETs (conditional), Link paging, GraphQL POSTs.

HTTP only: every request goes through ``make_client`` (retries, backoff, the unreachable-host
breaker, cut JSON bodies) with GitHub's rate-limit rules (``_ratelimit``: wait for a near
``x-ratelimit-reset``, otherwise stop with RateLimitedError; secondary limits with
``Retry-After``, else one minute, then doubling). Redirects (301 for renamed repos) are followed;
httpx drops ``Authorization`` when one leaves the API's host. The token lives in the client's
headers only. Answers come back decoded (``ApiResponse``); the parsers are in parse.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import httpx

from tracker.collectors._http import RetryPolicy, describe_body, json_body, make_client
from tracker.collectors._ratelimit import RateBook, RateLimitRules
from tracker.collectors.base import CollectContext
from tracker.collectors.github.graphql import batch_query, releases_query
from tracker.errors import RateLimitedError, UpstreamError

__all__ = [
    "API_VERSION",
    "HISTORY_PER_PAGE",
    "RELEASES_PER_PAGE",
    "ApiResponse",
    "GitHubApi",
    "fetch_graphql_batch",
    "fetch_graphql_releases",
    "fetch_release_pages",
    "fetch_repo",
    "fetch_star_history_pages",
]

SOURCE = "github"
API_VERSION = "2022-11-28"
HISTORY_PER_PAGE = 30  # the star-history endpoint's maximum
RELEASES_PER_PAGE = 100
RULES = RateLimitRules(label="GitHub")
# 202: GitHub is still computing the answer; 5xx: transient (501: not implemented here)
RETRY_STATUSES = frozenset({202, *range(500, 600)} - {501})


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """A decoded GitHub answer: status, lower-cased headers, JSON body (None for 304/empty)."""

    status: int
    headers: dict[str, str]
    data: object
    url: str  # the URL as requested (before redirects), query included
    next_url: str | None = None  # Link rel="next", absolute

    @property
    def message(self) -> str:
        """Return GitHub's error ``message`` (at most 200 characters), or ""."""
        if isinstance(self.data, dict) and isinstance(self.data.get("message"), str):
            return str(self.data["message"])[:200]
        return ""


def _describe(response: httpx.Response) -> str:
    try:
        payload = json_body(response)
    except (ValueError, UnicodeDecodeError):
        return describe_body(response)
    if isinstance(payload, dict) and isinstance(payload.get("message"), str):
        return str(payload["message"])[:200]
    return "unexpected body"


class GitHubApi:
    """GitHub REST + GraphQL on one httpx client (base URL configurable for Enterprise)."""

    def __init__(
        self,
        ctx: CollectContext,
        *,
        transport: httpx.BaseTransport | None = None,
        max_rate_wait: float = 300.0,
        backoff_base: float = 1.0,
    ) -> None:
        settings = ctx.settings
        self.api_url = settings.github_api_url.rstrip("/")
        self.graphql_url = settings.github_graphql_url
        self.rates = RateBook()
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
        if settings.github_token:
            headers["Authorization"] = f"Bearer {settings.github_token}"
        policy = RetryPolicy(
            retries=settings.http_retries,
            backoff_base=backoff_base,
            max_wait=max_rate_wait,
            retry_statuses=RETRY_STATUSES,
            rate_limits=RULES,
        )
        self.client = make_client(
            ctx,
            source=SOURCE,
            base_url=self.api_url,
            headers=headers,
            transport=transport,
            retry_post=True,  # GraphQL queries read only
            check_json=True,
            policy=policy,
            rates=self.rates,
        )

    def __enter__(self) -> GitHubApi:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.client.close()

    def absolute(self, path: str, params: dict[str, Any] | None = None) -> str:
        """Return the absolute URL of a REST path with ``params`` (the key of kept ETags)."""
        url = path if path.startswith(("http://", "https://")) else self.api_url + path
        return f"{url}?{urlencode(params)}" if params else url

    def _send(self, method: str, url: str, **kw: Any) -> httpx.Response:
        try:
            response = self.client.request(method, url, **kw)
        except httpx.TooManyRedirects:
            raise UpstreamError("too many redirects", source=SOURCE, url=url) from None
        status = response.status_code
        attempts = response.extensions.get("attempts", 1)
        if status in RETRY_STATUSES:
            raise UpstreamError(
                f"{_describe(response)} (after {attempts} attempts)",
                source=SOURCE,
                url=url,
                status=status,
            )
        return response

    def get(
        self, path: str, params: dict[str, Any] | None = None, *, etag: str | None = None
    ) -> ApiResponse:
        """GET a REST path (or an absolute URL on the API host); 304 gives data None."""
        url = self.absolute(path, params)
        response = self._send("GET", url, headers={"If-None-Match": etag} if etag else {})
        return ApiResponse(
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            data=self._decode(response, url),
            url=url,
            next_url=self._next_link(response, url),
        )

    def _decode(self, response: httpx.Response, url: str) -> object:
        if not response.content:
            return None
        try:
            return json_body(response)
        except (ValueError, UnicodeDecodeError):
            if response.status_code == 200:
                attempts = response.extensions.get("attempts", 1)
                raise UpstreamError(
                    f"{describe_body(response)}: truncated or invalid JSON"
                    f" after {attempts} attempts",
                    source=SOURCE,
                    url=url,
                    status=200,
                ) from None
            return None  # a non-JSON error page; the status tells the story

    def _next_link(self, response: httpx.Response, url: str) -> str | None:
        target = response.links.get("next", {}).get("url")
        if response.status_code != 200 or not target:
            return None
        nxt = urljoin(str(response.url), target)
        if urlsplit(nxt)[:2] != urlsplit(self.api_url)[:2]:
            raise UpstreamError(
                f"Link rel=next points to another host ({urlsplit(nxt).netloc})",
                source=SOURCE,
                url=url,
            )
        return nxt

    def pages(
        self, path: str, params: dict[str, Any], *, etag: str | None = None
    ) -> Iterator[ApiResponse]:
        """Yield each page of a list, following ``Link: rel="next"``; stops after a non-200."""
        response = self.get(path, params, etag=etag)
        while True:
            yield response
            if response.next_url is None:
                return
            response = self.get(response.next_url)

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, object]:
        """POST one GraphQL query; return the body (``data`` and ``errors``)."""
        url = self.graphql_url
        response = self._send(
            "POST",
            url,
            json={"query": query, "variables": variables},
            headers={"Accept": "application/json"},
        )
        body = self._decode(response, url)
        if response.status_code != 200 or not isinstance(body, dict):
            detail = _describe(response)
            raise UpstreamError(
                f"GraphQL request failed: {detail}",
                source=SOURCE,
                url=url,
                status=response.status_code,
            )
        errors = body.get("errors")
        for err in errors if isinstance(errors, list) else []:
            if isinstance(err, dict) and err.get("type") == "RATE_LIMITED":
                raise self._graphql_limited(response)
        return body

    def _graphql_limited(self, response: httpx.Response) -> RateLimitedError:
        reset = response.headers.get("x-ratelimit-reset", "")
        until = (
            datetime.fromtimestamp(int(reset), UTC).strftime("%Y-%m-%dT%H:%MZ")
            if reset.isdigit()
            else "the next hour"
        )
        return RateLimitedError(
            f"GitHub GraphQL rate limit exhausted until {until} (x-ratelimit-reset);"
            " run again after that",
            source=SOURCE,
            url=self.graphql_url,
            status=200,
        )


# ---- one function per endpoint --------------------------------------------------------------


def fetch_repo(api: GitHubApi, repo: str, *, etag: str | None = None) -> ApiResponse:
    """GET ``/repos/{owner}/{repo}`` (conditional with ``etag``; follows a rename's 301)."""
    return api.get(f"/repos/{repo}", etag=etag)


def fetch_release_pages(api: GitHubApi, repo: str) -> Iterator[ApiResponse]:
    """Yield the pages of ``/repos/{owner}/{repo}/releases``, newest created first.

    Never conditional: the first page is always read in full, because a release published
    today for an old commit sorts below newer ones and may not change the first page's ETag.
    """
    return api.pages(f"/repos/{repo}/releases", {"per_page": RELEASES_PER_PAGE})


def fetch_star_history_pages(
    api: GitHubApi, repo: str, *, etag: str | None = None
) -> Iterator[ApiResponse]:
    """Yield the pages of ``/repos/{owner}/{repo}/stargazers/history``, newest week first."""
    return api.pages(f"/repos/{repo}/stargazers/history", {"per_page": HISTORY_PER_PAGE}, etag=etag)


def fetch_graphql_batch(api: GitHubApi, repos: Sequence[str]) -> dict[str, object]:
    """POST one query for metadata and newest releases of each ``owner/name`` (alias ``r<i>``)."""
    pairs = [(owner, name) for owner, _, name in (r.partition("/") for r in repos)]
    query, variables = batch_query(pairs)
    return api.graphql(query, dict(variables))


def fetch_graphql_releases(api: GitHubApi, repo: str, after: str | None) -> dict[str, object]:
    """POST the query for one more page of ``owner/name``'s releases after cursor ``after``."""
    owner, name = repo.split("/", 1)
    return api.graphql(releases_query(), {"owner": owner, "name": name, "after": after})
