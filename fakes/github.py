"""The GitHub emulator: REST (public and Enterprise paths) and GraphQL."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

from fakes.core import Request, Response, iso_z
from fakes.github_repo import Budget, GhRelease, GhRepo

_GQL_ALIAS = re.compile(
    r"(\w+)\s*:\s*repository\s*\(\s*owner\s*:\s*(\"[^\"]*\"|\$\w+)\s*,\s*name\s*:\s*(\"[^\"]*\"|\$\w+)\s*\)"
)
_GQL_FIRST = re.compile(r"releases\s*\(\s*first\s*:\s*(\d+|\$\w+)")
_GQL_AFTER = re.compile(r"releases\s*\([^)]*\bafter\s*:\s*(\"[^\"]*\"|\$\w+)")
_GQL_PLAIN = re.compile(
    r"(?<![\w:])\s(repository)\s*\(\s*owner\s*:\s*(\"[^\"]*\"|\$\w+)\s*,\s*name\s*:\s*(\"[^\"]*\"|\$\w+)\s*\)"
)


class GithubEmulator:
    """REST (``/repos``, ``/repositories``, releases, star history, rate_limit) and GraphQL.

    Served at the root (public API style) and under ``/api/v3`` + ``/api/graphql`` (Enterprise).
    """

    def __init__(self) -> None:
        self.repos: list[GhRepo] = []
        self.core = Budget(5000, 5000)  # with a token
        self.core_anonymous = Budget(60, 60)  # without one
        self.graphql = Budget(5000, 5000)
        self.limit_status = 403  # status of an exhausted primary limit (403 or 429)
        self.valid_tokens: set[str] | None = None  # None: any token is accepted
        self.star_per_page_max = 30
        # answer the star history's real last page with a Link rel="next" to one more page that
        # is an empty list (the endpoint's documented end marker)
        self.star_empty_last_page = False
        self._lock = threading.Lock()
        self._next_id = 1000

    def add_repo(self, full_name: str, **fields: Any) -> GhRepo:
        """Add a repository (fields as in GhRepo; ``id`` is assigned when not given)."""
        with self._lock:
            if "id" not in fields:
                self._next_id += 1
                fields["id"] = self._next_id
        repo = GhRepo(full_name=full_name, **fields)
        self.repos.append(repo)
        return repo

    def rename(self, old: str, new: str) -> GhRepo:
        """Rename ``old`` to ``new``: the old name answers 301 to /repositories/{id}."""
        repo = self._by_name(old)
        if repo is None:
            raise KeyError(old)
        repo.old_names.append(repo.full_name)
        repo.full_name = new
        return repo

    def _by_name(self, name: str) -> GhRepo | None:
        for repo in self.repos:
            if repo.full_name.lower() == name.lower():
                return repo
        return None

    def _by_old_name(self, name: str) -> GhRepo | None:
        for repo in self.repos:
            if name.lower() in (n.lower() for n in repo.old_names):
                return repo
        return None

    def _by_id(self, repo_id: int) -> GhRepo | None:
        return next((r for r in self.repos if r.id == repo_id), None)

    @staticmethod
    def _error(status: int, message: str, **headers: str) -> Response:
        return Response.json(
            {
                "message": message,
                "documentation_url": "https://docs.github.com/rest",
                "status": str(status),
            },
            status,
            **headers,
        )

    def _budget(self, req: Request, graphql: bool) -> Budget:
        if graphql:
            return self.graphql
        return self.core if req.token else self.core_anonymous

    def handle(self, req: Request) -> Response:
        path = req.path
        prefix = ""
        if path.startswith("/api/v3/") or path == "/api/v3":
            prefix, path = "/api/v3", path[len("/api/v3") :] or "/"
        if path in ("/graphql", "/api/graphql"):
            return self._graphql(req)
        if req.token and self.valid_tokens is not None and req.token not in self.valid_tokens:
            return self._error(401, "Bad credentials")
        budget = self._budget(req, graphql=False)
        if path.rstrip("/") == "/rate_limit":  # does not count against the limit
            return Response.json(
                {
                    "resources": {
                        "core": self._limit_doc(budget),
                        "graphql": self._limit_doc(self.graphql),
                    },
                    "rate": self._limit_doc(budget),
                },
                200,
                **budget.headers("core"),
            )
        with self._lock:
            if budget.remaining <= 0:
                return self._error(
                    self.limit_status,
                    "API rate limit exceeded for user ID 1."
                    if req.token
                    else "API rate limit exceeded for 127.0.0.1. (But here's the good news: "
                    "Authenticated requests get a higher rate limit.)",
                    **budget.headers("core"),
                )
            budget.remaining -= 1
        response = self._rest(req, path, req.base + prefix)
        if response.status == 304 and req.token:
            with self._lock:  # an authorised 304 does not count
                budget.remaining += 1
        response.headers.update(budget.headers("core"))
        return response

    @staticmethod
    def _limit_doc(budget: Budget) -> dict[str, int]:
        return {
            "limit": budget.limit,
            "remaining": max(0, budget.remaining),
            "used": budget.limit - max(0, budget.remaining),
            "reset": budget.reset,
        }

    def _rest(self, req: Request, path: str, base: str) -> Response:
        if req.method not in ("GET", "HEAD"):
            return self._error(404, "Not Found")
        match = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path)
        by_id = re.fullmatch(r"/repositories/(\d+)(/.*)?", path)
        if match:
            name, sub = f"{match.group(1)}/{match.group(2)}", match.group(3) or ""
            repo = self._by_name(name)
            if repo is None:
                moved = self._by_old_name(name)
                if moved is not None:
                    location = f"{base}/repositories/{moved.id}{sub}"
                    if req.query:
                        location += "?" + urlsplit(f"x://x/?{_qs(req.query)}").query
                    return Response.json(
                        {
                            "message": "Moved Permanently",
                            "url": location,
                            "documentation_url": "https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects",
                        },
                        301,
                        Location=location,
                    )
                return self._error(404, "Not Found")
            self_path = f"{base}/repos/{repo.full_name}"
        elif by_id:
            repo = self._by_id(int(by_id.group(1)))
            sub = by_id.group(2) or ""
            if repo is None:
                return self._error(404, "Not Found")
            self_path = f"{base}/repositories/{repo.id}"
        else:
            return self._error(404, "Not Found")
        if sub in ("", "/"):
            response = Response.json(repo.rest(base))
            etag = 'W/"' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
            response.headers["ETag"] = etag
            response.headers["Last-Modified"] = format_datetime(
                repo.pushed_at or repo.created_at, usegmt=True
            )
            if req.headers.get("if-none-match") == etag:
                return Response(304, b"", {"ETag": etag})
            return response
        if sub.rstrip("/") == "/releases":
            docs = [self._release_doc(r) for r in repo.sorted_releases()]
            return self._paged(req, docs, f"{self_path}/releases", default=30, ceiling=100)
        if sub.rstrip("/") == "/stargazers/history":
            weeks = sorted(repo.star_weeks, key=lambda w: w.week, reverse=True)
            docs = [
                {
                    "week": int(
                        datetime(w.week.year, w.week.month, w.week.day, tzinfo=UTC).timestamp()
                    ),
                    "total": w.total,
                    "days": list(w.days),
                }
                for w in weeks
            ]
            ceiling = self.star_per_page_max
            return self._paged(
                req,
                docs,
                f"{self_path}/stargazers/history",
                default=ceiling,
                ceiling=ceiling,
                empty_last=self.star_empty_last_page,
            )
        return self._error(404, "Not Found")

    @staticmethod
    def _release_doc(r: GhRelease) -> dict[str, object]:
        return {
            "tag_name": r.tag_name,
            "name": r.name,
            "draft": r.draft,
            "prerelease": r.prerelease,
            "created_at": iso_z(r.created_at),
            "published_at": iso_z(r.published_at) if r.published_at else None,
        }

    @staticmethod
    def _paged(
        req: Request,
        docs: Sequence[object],
        url: str,
        *,
        default: int,
        ceiling: int,
        empty_last: bool = False,
    ) -> Response:
        try:
            per_page = min(ceiling, max(1, int(req.arg("per_page") or default)))
            page = max(1, int(req.arg("page") or 1))
        except ValueError:
            return GithubEmulator._error(422, "Invalid pagination parameter")
        last = max(1, -(-len(docs) // per_page)) + (1 if empty_last and docs else 0)
        chunk = list(docs[(page - 1) * per_page : page * per_page])
        links = []
        if page < last:
            links.append(f'<{url}?per_page={per_page}&page={page + 1}>; rel="next"')
            links.append(f'<{url}?per_page={per_page}&page={last}>; rel="last"')
        if page > 1:
            links.append(f'<{url}?per_page={per_page}&page=1>; rel="first"')
            links.append(f'<{url}?per_page={per_page}&page={min(page - 1, last)}>; rel="prev"')
        response = Response.json(chunk)
        # list pages carry an ETag too, and answer 304 to a matching If-None-Match
        etag = 'W/"' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
        if req.headers.get("if-none-match") == etag:
            return Response(304, b"", {"ETag": etag})
        response.headers["ETag"] = etag
        if links:
            response.headers["Link"] = ", ".join(links)
        return response

    def _graphql(self, req: Request) -> Response:
        if req.method != "POST":
            return self._error(404, "Not Found")
        if not req.token:
            return self._error(401, "This endpoint requires you to be authenticated.")
        if self.valid_tokens is not None and req.token not in self.valid_tokens:
            return self._error(401, "Bad credentials")
        try:
            doc = json.loads(req.body)
            query = str(doc["query"])
            variables = doc.get("variables") or {}
        except (ValueError, KeyError, TypeError):
            return Response.json({"message": "Problems parsing JSON"}, 400)
        with self._lock:
            if self.graphql.remaining <= 0:
                return Response.json(
                    {
                        "errors": [
                            {
                                "type": "RATE_LIMITED",
                                "message": "API rate limit exceeded for user ID 1.",
                            }
                        ]
                    },
                    200,
                    **self.graphql.headers("graphql"),
                )
            self.graphql.remaining -= 1

        def resolve(token: str) -> str:
            if token.startswith("$"):
                return str(variables.get(token[1:], ""))
            return token.strip('"')

        first_match = _GQL_FIRST.search(query)
        first = 10
        if first_match:
            first = int(resolve(first_match.group(1)) or 10)
        # the release cursor is the index of the next release (newest first), as text
        after_match = _GQL_AFTER.search(query)
        after_text = resolve(after_match.group(1)) if after_match else ""
        offset = int(after_text) if after_text.isdigit() else 0
        data: dict[str, object] = {}
        errors: list[dict[str, object]] = []
        aliases = _GQL_ALIAS.findall(query) + _GQL_PLAIN.findall(query)
        for alias, owner_tok, name_tok in aliases:
            name = f"{resolve(owner_tok)}/{resolve(name_tok)}"
            repo = self._by_name(name) or self._by_old_name(name)
            if repo is None:
                data[alias] = None
                errors.append(
                    {
                        "type": "NOT_FOUND",
                        "path": [alias],
                        "locations": [{"line": 1, "column": 1}],
                        "message": f"Could not resolve to a Repository with the name '{name}'.",
                    }
                )
                continue
            releases = repo.sorted_releases()
            data[alias] = {
                "nameWithOwner": repo.full_name,
                "databaseId": repo.id,
                "stargazerCount": repo.stargazers_count,
                "forkCount": repo.forks_count,
                "isArchived": repo.archived,
                "pushedAt": iso_z(repo.pushed_at) if repo.pushed_at else None,
                "createdAt": iso_z(repo.created_at),
                "description": repo.description,
                "watchers": {"totalCount": repo.subscribers_count},
                "issues": {"totalCount": repo.open_issues_count - repo.open_pull_requests},
                "pullRequests": {"totalCount": repo.open_pull_requests},
                "releases": {
                    "totalCount": len(releases),
                    "pageInfo": {
                        "hasNextPage": offset + first < len(releases),
                        "endCursor": str(offset + first),
                    },
                    "nodes": [
                        {
                            "tagName": r.tag_name,
                            "name": r.name,
                            "publishedAt": iso_z(r.published_at) if r.published_at else None,
                            "createdAt": iso_z(r.created_at),
                            "isPrerelease": r.prerelease,
                            "isDraft": r.draft,
                        }
                        for r in releases[offset : offset + first]
                    ],
                },
            }
        if "rateLimit" in query:
            data["rateLimit"] = {
                "cost": 1,
                "remaining": max(0, self.graphql.remaining),
                "resetAt": iso_z(datetime.fromtimestamp(self.graphql.reset, UTC)),
                "limit": self.graphql.limit,
            }
        payload: dict[str, object] = {"data": data}
        if errors:
            payload["errors"] = errors
        return Response.json(payload, 200, **self.graphql.headers("graphql"))


def _qs(query: Mapping[str, list[str]]) -> str:
    return "&".join(f"{k}={v}" for k, values in query.items() for v in values)
