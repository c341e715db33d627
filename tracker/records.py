"""Typed, frozen records that collectors produce and the warehouse stores (times in UTC)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

__all__ = [
    "DemandRecord",
    "DownloadRecord",
    "HttpCacheRecord",
    "ReleaseRecord",
    "RepoIdentityRecord",
    "RepoSnapshotRecord",
    "StarWeekRecord",
    "ToolBatch",
    "ToolFailure",
    "ToolOutcome",
]


@dataclass(frozen=True, slots=True)
class ReleaseRecord:
    """One version of a project from one source (`github`, `pypi`, `apache`)."""

    tool_id: str
    source: str
    project: str
    version: str
    released_at: datetime | None  # UTC; None when upstream gives no time
    is_prerelease: bool
    is_yanked: bool
    version_valid: bool = True  # False: not a PEP 440 version (kept, flagged)
    title: str | None = None  # release name as upstream gives it (untrusted text)


@dataclass(frozen=True, slots=True)
class DownloadRecord:
    """Downloads of one package on one UTC day from one source (`pypistats`, `clickpy`)."""

    tool_id: str
    package: str
    day: date
    downloads: int
    source: str


@dataclass(frozen=True, slots=True)
class RepoSnapshotRecord:
    """A repository's counters as observed at ``observed_at`` (UTC)."""

    tool_id: str
    repo: str
    observed_at: datetime
    stars: int | None
    forks: int | None
    open_issues: int | None
    watchers: int | None
    archived: bool | None
    pushed_at: datetime | None


@dataclass(frozen=True, slots=True)
class StarWeekRecord:
    """Stars added to a repo in the week starting ``week_start`` (Sunday, UTC)."""

    tool_id: str
    repo: str
    week_start: date
    stars_added: int
    source: str  # 'github' (star-history endpoint) or 'snapshot' (derived from snapshots)


@dataclass(frozen=True, slots=True)
class RepoIdentityRecord:
    """The stable GitHub id of a tool's repo and the name it answers to now."""

    tool_id: str
    repo_id: int
    full_name: str
    catalog_name: str
    created_at: datetime | None
    description: str | None


@dataclass(frozen=True, slots=True)
class DemandRecord:
    """Demand for one tool in one calendar month from one source (`hn`, `stackoverflow`).

    ``mentions`` counts what names the tool (HN: top-level job posts; Stack Overflow: questions
    per tag, summed over the tool's tags), ``total`` the month's whole population (HN: the
    thread's job posts; Stack Overflow: every question asked on the site that month).
    """

    tool_id: str
    source: str
    month: date  # first day of the month
    mentions: int
    total: int


@dataclass(frozen=True, slots=True)
class HttpCacheRecord:
    """A validator (ETag / Last-Modified) kept for a conditional request to ``url``."""

    url: str
    etag: str | None
    last_modified: str | None
    updated_at: datetime  # when the collector read it (its injected clock, UTC)


@dataclass(frozen=True, slots=True)
class ToolBatch:
    """Everything one source collected for one tool; stored in one transaction."""

    tool_id: str
    releases: tuple[ReleaseRecord, ...] = ()
    downloads: tuple[DownloadRecord, ...] = ()
    snapshots: tuple[RepoSnapshotRecord, ...] = ()
    star_weeks: tuple[StarWeekRecord, ...] = ()
    identities: tuple[RepoIdentityRecord, ...] = ()
    http_cache: tuple[HttpCacheRecord, ...] = ()
    demand: tuple[DemandRecord, ...] = ()
    # (package or repo) errors that did not stop the rest of the tool from being stored
    errors: tuple[str, ...] = ()
    # human-readable warnings (renamed repo, skipped empty versions ...)
    warnings: tuple[str, ...] = ()
    # free-form counters for the run summary, e.g. {"versions_without_files": 3}
    counters: tuple[tuple[str, int], ...] = ()

    @property
    def rows(self) -> int:
        """The warehouse rows this batch writes (the validators in http_cache not counted)."""
        return sum(
            map(
                len,
                (
                    self.releases,
                    self.downloads,
                    self.snapshots,
                    self.star_weeks,
                    self.identities,
                    self.demand,
                ),
            )
        )


@dataclass(frozen=True, slots=True)
class ToolFailure:
    """A tool for which a source stored nothing, and why (one line)."""

    tool_id: str
    error: str


ToolOutcome = ToolBatch | ToolFailure
