"""GitHub GraphQL: many repos per request through aliases, and release pages for one repo.

Docs: https://docs.github.com/graphql/guides/forming-calls-with-graphql . A repo that does not
exist answers ``null`` for its alias with an error ``{"type": "NOT_FOUND", "path": ["r0"]}``
in the same HTTP 200 response; the other aliases are valid. Releases come newest *created*
first (``orderBy: CREATED_AT``; GraphQL cannot order by publication), so ``createdAt`` is asked
for to steer paging.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["RELEASES_PAGE", "batch_query", "releases_query"]

RELEASES_PAGE = 100

_RELEASES = (
    "releases(first: %d, after: $after%s, orderBy: {field: CREATED_AT, direction: DESC}) {"
    " totalCount pageInfo { hasNextPage endCursor }"
    " nodes { tagName name createdAt publishedAt isPrerelease isDraft } }"
)

_REPO_FIELDS = (
    "databaseId nameWithOwner description createdAt pushedAt isArchived"
    " stargazerCount forkCount watchers { totalCount }"
    " issues(states: OPEN) { totalCount } pullRequests(states: OPEN) { totalCount } "
)


def batch_query(repos: Sequence[tuple[str, str]]) -> tuple[str, dict[str, str | None]]:
    """Return (query, variables) asking for metadata and newest releases of each (owner, name).

    Alias ``r<i>`` answers for ``repos[i]``; values travel as variables, never inside the query.
    """
    params = []
    parts = []
    variables: dict[str, str | None] = {}
    for i, (owner, name) in enumerate(repos):
        params.append(f"$o{i}: String!, $n{i}: String!, $a{i}: String")
        variables[f"o{i}"] = owner
        variables[f"n{i}"] = name
        variables[f"a{i}"] = None
        releases = _RELEASES.replace("$after", f"$a{i}") % (RELEASES_PAGE, "")
        parts.append(f"r{i}: repository(owner: $o{i}, name: $n{i}) {{ {_REPO_FIELDS}{releases} }}")
    query = (
        f"query({', '.join(params)}) {{ rateLimit {{ cost remaining resetAt limit }} "
        + " ".join(parts)
        + " }"
    )
    return query, variables


def releases_query() -> str:
    """Return the query for one more page of one repo's releases (variables owner, name, after)."""
    releases = _RELEASES % (RELEASES_PAGE, "")
    return (
        "query($owner: String!, $name: String!, $after: String) {"
        " rateLimit { cost remaining resetAt limit }"
        f" repository(owner: $owner, name: $name) {{ {releases} }} }}"
    )
