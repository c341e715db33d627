"""The ``github`` source: fetch.py (HTTP only), parse.py (pure), collector.py (per tool).

Docs: https://docs.github.com/rest , https://docs.github.com/graphql
"""

from __future__ import annotations

from tracker.collectors.github.collector import GithubCollector
from tracker.collectors.github.parse import (
    RepoInfo,
    nearest_sunday,
    parse_graphql_repo,
    parse_releases,
    parse_repo,
    parse_star_history,
    week_start_of,
)

__all__ = [
    "GithubCollector",
    "RepoInfo",
    "nearest_sunday",
    "parse_graphql_repo",
    "parse_releases",
    "parse_repo",
    "parse_star_history",
    "week_start_of",
]
