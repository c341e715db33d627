"""GitHub transport: PyGithub builds each request, tracker's connection sends it.

PyGithub's ``Requester`` adds authentication, the User-Agent, the API version header and the
base-URL prefix (GitHub Enterprise's ``/api/v3``). Its own retry (``GithubRetry``) sleeps with the
real clock and waits a full hour for a primary reset, and it cannot send conditional requests
through its object API, so tracker passes its own connection object (``requestJson(cnx=...)``,
a public parameter) and the connection does, per HTTP request: counting into ``ctx.requests``,
retries with backoff on connection errors, 5xx and truncated bodies, redirects (301 for renamed
repos, keeping the query string), primary rate limits (wait if the reset is near, otherwise raise
``RateLimitedError``) and secondary limits (``Retry-After``, else one minute, then doubling).
Docs: https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api
"""

from __future__ import annotations

import functools
import json
import logging
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from tracker.collectors.base import (
    USER_AGENT,
    RequestCounter,
    connect_failure,
    is_dns_failure,
    parse_retry_after,
)
from tracker.errors import RateLimitedError, SourceUnreachableError, UpstreamError

if TYPE_CHECKING:
    import requests
    from github.Requester import HTTPRequestsConnectionClass, RequestsResponse

__all__ = ["ApiResponse", "GitHubApi", "RateState"]

log = logging.getLogger(__name__)

SOURCE = "github"
API_VERSION = "2022-11-28"
_REDIRECTS = frozenset({301, 302, 307, 308})
_MAX_REDIRECTS = 5


@dataclass(slots=True)
class RateState:
    """The latest x-ratelimit-* figures seen for one resource (``core``, ``graphql`` ...)."""

    limit: int | None = None
    remaining: int | None = None
    reset: int | None = None  # epoch seconds


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """A decoded GitHub response: status, lower-cased headers, JSON body (None for 304/empty)."""

    status: int
    headers: dict[str, str]
    data: object
    url: str  # the URL as requested (before redirects), query included
    final_url: str  # where the answer came from after redirects


@dataclass(slots=True)
class _Exchange:
    url: str = ""
    final_url: str = ""


def _describe(response: requests.Response) -> str:
    ctype = response.headers.get("content-type", "")
    body = response.content or b""
    if "html" in ctype or body.lstrip()[:1] == b"<":
        return "HTML page instead of JSON"
    try:
        payload = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return text.splitlines()[0][:160] if text else "empty body"
    if isinstance(payload, dict) and isinstance(payload.get("message"), str):
        return str(payload["message"])[:200]
    return "unexpected body"


def _header_int(headers: Any, name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def _iso_minute(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%MZ")


def _is_json_body(response: requests.Response) -> bool:
    ctype = response.headers.get("content-type", "")
    return "json" in ctype or (response.content or b"").lstrip()[:1] in (b"{", b"[")


@dataclass(slots=True)
class GitHubApi:
    """GitHub REST + GraphQL over PyGithub's Requester, with tracker's connection underneath."""

    api_url: str
    graphql_url: str
    token: str | None = field(repr=False)
    counter: RequestCounter
    sleep: Callable[[float], None]
    now: Callable[[], datetime]
    timeout: float = 30.0
    retries: int = 4
    max_rate_wait: float = 300.0  # wait for a primary reset at most this long (seconds)
    backoff_base: float = 1.0
    session: requests.Session | None = None
    rate: dict[str, RateState] = field(default_factory=dict)
    _requester: Any = None
    _unreachable: SourceUnreachableError | None = None
    _last: _Exchange = field(default_factory=_Exchange)

    def __post_init__(self) -> None:
        import requests
        from github import Auth, Github

        if self.session is None:
            self.session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(max_retries=0)
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)
        # a non-None auth stops requests from reading credentials out of ~/.netrc
        self.session.auth = lambda r: r
        gh = Github(
            auth=Auth.Token(self.token) if self.token else None,
            base_url=self.api_url,
            timeout=int(self.timeout),
            user_agent=USER_AGENT,
            per_page=100,
            retry=None,  # retries are ours (injected clock, near/far reset decision)
            seconds_between_requests=None,  # requests are serial anyway
            seconds_between_writes=None,
        )
        self._requester = gh.requester

    # ---- public calls --------------------------------------------------------------------------
    def get(
        self, path: str, params: dict[str, Any] | None = None, *, etag: str | None = None
    ) -> ApiResponse:
        """GET a REST path (or an absolute URL on the API host); 304 gives data None."""
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
        if etag:
            headers["If-None-Match"] = etag
        return self._call("GET", path, params, headers, None)

    def pages(
        self, path: str, params: dict[str, Any], *, etag: str | None = None
    ) -> Iterator[ApiResponse]:
        """Yield each page of a list, following ``Link: rel="next"``; stops after a 304."""
        response = self.get(path, params, etag=etag)
        while True:
            yield response
            nxt = self._next_link(response)
            if response.status != 200 or nxt is None:
                return
            response = self.get(nxt)

    def graphql(self, query: str, variables: dict[str, Any]) -> ApiResponse:
        """POST one GraphQL query; the body keeps ``data`` and ``errors`` for the caller."""
        return self._call(
            "POST",
            self.graphql_url,
            None,
            {"Accept": "application/json"},
            {"query": query, "variables": variables},
        )

    def rate_summary(self) -> str:
        """Return e.g. ``core 4990/5000`` for every resource seen (for logs)."""
        return ", ".join(
            f"{name} {st.remaining}/{st.limit}" for name, st in sorted(self.rate.items())
        )

    def close(self) -> None:
        """Close the HTTP session."""
        if self.session is not None:
            self.session.close()

    # ---- plumbing --------------------------------------------------------------------------
    def absolute(self, path: str, params: dict[str, Any] | None = None) -> str:
        """Return the absolute URL of a REST path with ``params`` (the key of kept ETags)."""
        from github.Requester import Requester

        url = path if path.startswith(("http://", "https://")) else self.api_url.rstrip("/") + path
        return Requester.add_parameters_to_url(url, params) if params else url

    def _next_link(self, response: ApiResponse) -> str | None:
        import requests.utils

        header = response.headers.get("link")
        if not header:
            return None
        for link in requests.utils.parse_header_links(header):
            if link.get("rel") == "next" and link.get("url"):
                url = urljoin(response.final_url, link["url"])
                if urlsplit(url)[:2] != urlsplit(self.api_url)[:2]:
                    raise UpstreamError(
                        f"Link rel=next points to another host ({urlsplit(url).netloc})",
                        source=SOURCE,
                        url=response.url,
                    )
                return url
        return None

    def _call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        headers: dict[str, str],
        body: object,
    ) -> ApiResponse:
        target = self.absolute(path, params)
        cnx = _connection_class()(self, target)
        # PyGithub: auth header, User-Agent, API version, base-path prefix, JSON encoding
        status, headers_out, text = self._requester.requestJson(
            method, target, None, dict(headers), body, cnx
        )
        data: object = None
        if text:
            try:
                data = json.loads(text)
            except ValueError:
                data = None  # a non-JSON error page; the status tells the story
        return ApiResponse(
            status=status,
            headers={str(k).lower(): str(v) for k, v in headers_out.items()},
            data=data,
            url=target,
            final_url=self._last.final_url or target,
        )

    def _backoff(self, attempt: int) -> float:
        return min(60.0, self.backoff_base * 2.0**attempt) * (0.5 + random.random() / 2)

    def _resource_for(self, url: str) -> str:
        return "graphql" if url.split("?")[0] == self.graphql_url else "core"

    def _update_rate(self, response: requests.Response, resource: str) -> None:
        h = response.headers
        remaining = _header_int(h, "x-ratelimit-remaining")
        if remaining is None:
            return
        state = self.rate.setdefault(h.get("x-ratelimit-resource") or resource, RateState())
        state.remaining = remaining
        state.limit = _header_int(h, "x-ratelimit-limit")
        state.reset = _header_int(h, "x-ratelimit-reset")

    def _wait_for_reset(self, reset: int | None, url: str, status: int | None) -> None:
        """Sleep until ``reset`` when it is near; otherwise raise RateLimitedError."""
        now = self.now().timestamp()
        wait = (reset - now + 1.0) if reset is not None else None
        if wait is not None and wait <= 0:
            return
        if wait is not None and wait <= self.max_rate_wait:
            log.info("github: rate limit exhausted, waiting %.0fs for the reset", wait)
            self.sleep(wait)
            return
        until = _iso_minute(reset) if reset is not None else "an unknown time"
        raise RateLimitedError(
            f"GitHub rate limit exhausted until {until} (x-ratelimit-reset); run again after that",
            source=SOURCE,
            url=url,
            status=status,
            reset_at=datetime.fromtimestamp(reset, UTC) if reset is not None else None,
        )

    def send(self, method: str, url: str, body: Any, headers: dict[str, str]) -> requests.Response:
        """Send one request with tracker's retry, redirect and rate-limit rules."""
        import requests

        assert self.session is not None
        resource = self._resource_for(url)
        self._last = _Exchange(url=url, final_url=url)
        attempt = secondary = primary = hops = 0
        current = url
        while True:
            state = self.rate.get(resource)
            if state is not None and state.remaining == 0 and state.reset is not None:
                self._wait_for_reset(state.reset, current, None)
                state.remaining = None  # after the wait the budget is unknown again
            if self._unreachable is not None:
                raise self._unreachable.for_url(current.split("?")[0])
            self.counter.add()
            try:
                response = self.session.request(
                    method,
                    current,
                    data=body,
                    headers=headers,
                    timeout=(min(10.0, self.timeout), self.timeout),
                    allow_redirects=False,
                )
            except requests.exceptions.ConnectionError as exc:
                if not is_dns_failure(exc) and attempt < min(self.retries, 2):
                    self.sleep(self._backoff(attempt))
                    attempt += 1
                    continue
                self._unreachable = SourceUnreachableError(
                    connect_failure(exc), source=SOURCE, url=current.split("?")[0]
                )
                raise self._unreachable from None  # requests' message is long; the cause says it
            except requests.exceptions.RequestException as exc:
                # read timeouts and bodies cut short (ChunkedEncodingError: truncated)
                if attempt < self.retries:
                    log.debug("github: %s on %s, retrying", type(exc).__name__, current)
                    self.sleep(self._backoff(attempt))
                    attempt += 1
                    continue
                raise UpstreamError(
                    f"{type(exc).__name__} after {attempt + 1} attempts", source=SOURCE, url=current
                ) from None
            self._unreachable = None
            self._update_rate(response, resource)
            status = response.status_code
            log.debug("%s %s -> %s", method, current.split("?")[0], status)
            if status in _REDIRECTS and "location" in response.headers:
                if hops >= _MAX_REDIRECTS:
                    raise UpstreamError("too many redirects", source=SOURCE, url=url, status=status)
                nxt = urljoin(current, response.headers["location"])
                if urlsplit(nxt)[:2] != urlsplit(current)[:2]:
                    # never carry the token to another host
                    headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
                log.info("github: %s redirects (%s) to %s", current, status, nxt)
                current = nxt
                self._last.final_url = nxt
                hops += 1
                continue
            if status in (403, 429):
                if response.headers.get("x-ratelimit-remaining") == "0" and primary < 2:
                    self._wait_for_reset(
                        _header_int(response.headers, "x-ratelimit-reset"), current, status
                    )
                    seen = self.rate.get(response.headers.get("x-ratelimit-resource") or resource)
                    if seen is not None:
                        seen.remaining = None  # after the wait the budget is unknown again
                    primary += 1
                    continue
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                message = _describe(response).lower()
                if status == 429 or retry_after is not None or "secondary rate limit" in message:
                    wait = retry_after if retry_after is not None else 60.0 * 2.0**secondary
                    if secondary < self.retries and wait <= self.max_rate_wait:
                        log.info("github: secondary rate limit, waiting %.0fs", wait)
                        self.sleep(wait)
                        secondary += 1
                        continue
                    reset = int(self.now().timestamp() + wait)
                    raise RateLimitedError(
                        f"GitHub secondary rate limit: retry after {_iso_minute(reset)};"
                        " run again after that",
                        source=SOURCE,
                        url=current,
                        status=status,
                        reset_at=datetime.fromtimestamp(reset, UTC),
                    )
                return response
            if status == 202 or (status >= 500 and status != 501):
                # 202: GitHub is still computing the answer; 5xx: transient (501: not here)
                if attempt < self.retries:
                    delay = self._backoff(attempt)
                    log.info("github: HTTP %s on %s, retry in %.1fs", status, current, delay)
                    self.sleep(delay)
                    attempt += 1
                    continue
                raise UpstreamError(
                    f"{_describe(response)} (after {attempt + 1} attempts)",
                    source=SOURCE,
                    url=current,
                    status=status,
                )
            if status == 200 and _is_json_body(response):
                try:
                    json.loads(response.content)
                except ValueError:
                    if attempt < self.retries:
                        log.info("github: truncated JSON from %s, retrying", current)
                        self.sleep(self._backoff(attempt))
                        attempt += 1
                        continue
                    raise UpstreamError(
                        f"truncated or invalid JSON after {attempt + 1} attempts",
                        source=SOURCE,
                        url=current,
                        status=status,
                    ) from None
            return response


@functools.cache
def _connection_class() -> Callable[[GitHubApi, str], HTTPRequestsConnectionClass]:
    """Return the connection class PyGithub's Requester talks to instead of its own session."""
    from github.Requester import HTTPRequestsConnectionClass, RequestsResponse

    class Connection(HTTPRequestsConnectionClass):
        def __init__(self, api: GitHubApi, target: str) -> None:  # no session of its own
            parts = urlsplit(target)
            self.api = api
            self.protocol = parts.scheme
            self.host = parts.hostname or ""
            self.origin = f"{parts.scheme}://{parts.netloc}"

        def request(
            self, verb: str, url: str, input: Any, headers: dict[str, str], stream: bool = False
        ) -> None:
            self.verb, self.url, self.input, self.headers = verb, url, input, headers

        def getresponse(self) -> RequestsResponse:
            return RequestsResponse(
                self.api.send(self.verb, self.origin + self.url, self.input, self.headers)
            )

        def close(self) -> None:
            """The session belongs to GitHubApi."""

    return Connection
