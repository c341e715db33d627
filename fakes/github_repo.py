"""The GitHub emulator's data model: repos, releases, star weeks, rate-limit budgets."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime

from fakes.core import at, iso_z

# ---- GitHub REST + GraphQL -------------------------------------------------------------------


@dataclass(slots=True)
class GhRelease:
    """One GitHub release (``published_at`` None for drafts)."""

    tag_name: str
    created_at: datetime
    published_at: datetime | None = None
    name: str | None = None
    draft: bool = False
    prerelease: bool = False


@dataclass(frozen=True, slots=True)
class StarWeek:
    """Stars added in one week starting Sunday 00:00 UTC, day by day (Sunday first)."""

    week: date
    days: tuple[int, int, int, int, int, int, int]

    @property
    def total(self) -> int:
        """Return the week's stars added."""
        return sum(self.days)


@dataclass(slots=True)
class GhRepo:
    """One fake repository; ``full_name`` is the current name, ``id`` the stable key."""

    id: int
    full_name: str
    description: str | None = None
    created_at: datetime = field(default_factory=lambda: at("2015-01-01T00:00:00Z"))
    pushed_at: datetime | None = field(default_factory=lambda: at("2026-01-01T00:00:00Z"))
    stargazers_count: int = 0
    forks_count: int = 0
    open_issues_count: int = 0
    subscribers_count: int = 0
    open_pull_requests: int = 0  # part of open_issues_count (REST counts both together)
    archived: bool = False
    releases: list[GhRelease] = field(default_factory=list)  # any order; served newest first
    star_weeks: list[StarWeek] = field(default_factory=list)  # any order; served newest first
    old_names: list[str] = field(default_factory=list)

    def rest(self, base: str) -> dict[str, object]:
        """Return the ``GET /repos/{o}/{r}`` document."""
        owner = self.full_name.split("/")[0]
        return {
            "id": self.id,
            "node_id": f"R_{self.id}",
            "name": self.full_name.split("/")[1],
            "full_name": self.full_name,
            "private": False,
            "owner": {"login": owner, "type": "Organization"},
            "html_url": f"https://github.com/{self.full_name}",
            "description": self.description,
            "fork": False,
            "url": f"{base}/repos/{self.full_name}",
            "created_at": iso_z(self.created_at),
            "updated_at": iso_z(self.pushed_at or self.created_at),
            "pushed_at": iso_z(self.pushed_at) if self.pushed_at else None,
            "stargazers_count": self.stargazers_count,
            "watchers_count": self.stargazers_count,
            "forks_count": self.forks_count,
            "open_issues_count": self.open_issues_count,
            "subscribers_count": self.subscribers_count,
            "archived": self.archived,
            "disabled": False,
            "default_branch": "main",
        }

    def sorted_releases(self) -> list[GhRelease]:
        """Return releases newest first (by created_at)."""
        return sorted(self.releases, key=lambda r: r.created_at, reverse=True)


@dataclass(slots=True)
class Budget:
    """A GitHub rate-limit resource that counts down."""

    limit: int
    remaining: int
    reset: int = field(default_factory=lambda: int(time.time()) + 3600)

    def headers(self, resource: str) -> dict[str, str]:
        """Return the x-ratelimit-* headers."""
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(max(0, self.remaining)),
            "x-ratelimit-used": str(self.limit - max(0, self.remaining)),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-resource": resource,
        }
