"""The plan of one source run: every cursor its collector needs, read from the warehouse up front.

The runner reads a ``SourcePlan`` for (source, selected tools) before the collector starts and
hands it over in ``CollectContext.state``. The plan is an immutable snapshot in memory: a
collector never sees the store or its connection, may read the plan from any thread, and what
the runner writes during the run does not change what the collector planned with (each tool's
cursors are its own, so nothing a collector reads depends on another tool's rows of this run).

Cursors are the stored rows themselves (no state files): the newest stored day, week, release
and month; the ETag / Last-Modified and fetch time of each URL; recent repo snapshots; and the
requests this source's runs logged today (the Stack Exchange quota).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from tracker.records import RepoSnapshotRecord

if TYPE_CHECKING:
    import duckdb

__all__ = ["SNAPSHOT_HORIZON", "SourcePlan", "read_plan"]

# how far back the plan keeps repo snapshots and runs: the github collector derives a week's
# stars from the snapshots of the last two weeks, the stackoverflow one counts today's requests
SNAPSHOT_HORIZON = timedelta(days=21)
RUNS_HORIZON = timedelta(days=2)


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None else None


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


@dataclass(frozen=True, slots=True)
class SourcePlan:
    """The cursors of one source run (read-only; the ``WarehouseState`` a collector gets)."""

    source: str
    read_at: datetime  # the run's clock when the plan was read (UTC)
    http: Mapping[str, tuple[str | None, str | None, datetime]]  # url -> etag, lm, fetched
    download_days: Mapping[tuple[str, str, str], date]  # (tool, package, source) -> newest day
    star_weeks: Mapping[tuple[str, str], date]  # (tool, source) -> newest week_start
    release_at: Mapping[tuple[str, str], datetime]  # (tool, source) -> newest released_at
    snapshots: Mapping[str, tuple[RepoSnapshotRecord, ...]]  # tool -> recent + newest, oldest 1st
    months: Mapping[str, frozenset[date]]  # tool -> months stored (this source)
    totals: Mapping[date, int]  # month -> the source's total (this source)
    runs: tuple[tuple[datetime, int], ...]  # (started_at UTC, requests) of recent runs

    def http_validators(self, url: str) -> tuple[str | None, str | None]:
        """The stored (etag, last_modified) of ``url``, or (None, None)."""
        row = self.http.get(url)
        return (row[0], row[1]) if row else (None, None)

    def http_fetched_at(self, url: str) -> datetime | None:
        """When ``url`` was last fetched with success (naive UTC, as stored), or None."""
        row = self.http.get(url)
        return row[2] if row else None

    def last_download_day(self, tool_id: str, package: str, source: str) -> date | None:
        """The newest stored day of ``package``'s downloads from ``source``."""
        return self.download_days.get((tool_id, package, source))

    def last_star_week(self, tool_id: str, source: str = "github") -> date | None:
        """The newest stored week_start of ``tool_id``'s star history from ``source``."""
        return self.star_weeks.get((tool_id, source))

    def last_release_at(self, tool_id: str, source: str) -> datetime | None:
        """The newest stored released_at (UTC) of ``tool_id``'s releases from ``source``."""
        return self.release_at.get((tool_id, source))

    def latest_snapshot_record(self, tool_id: str) -> RepoSnapshotRecord | None:
        """``tool_id``'s newest repo snapshot, or None."""
        rows = self.snapshots.get(tool_id, ())
        return rows[-1] if rows else None

    def recent_snapshots(self, tool_id: str, since: datetime) -> tuple[RepoSnapshotRecord, ...]:
        """``tool_id``'s snapshots observed at or after ``since`` (within the plan's horizon)."""
        if since < self.read_at - SNAPSHOT_HORIZON:
            raise ValueError(f"snapshots before {since} are not in the plan (horizon 21 days)")
        return tuple(s for s in self.snapshots.get(tool_id, ()) if s.observed_at >= since)

    def demand_months(self, source: str) -> dict[str, frozenset[date]]:
        """Per tool, the months stored in `demand_monthly` for this plan's source."""
        self._own(source)
        return dict(self.months)

    def demand_totals(self, source: str) -> dict[date, int]:
        """The stored month totals of this plan's source."""
        self._own(source)
        return dict(self.totals)

    def requests_since(self, source: str, since: datetime) -> int:
        """The requests that this source's runs started at or after ``since`` logged."""
        self._own(source)
        if since < self.read_at - RUNS_HORIZON:
            raise ValueError(f"runs before {since} are not in the plan (horizon 2 days)")
        return sum(n for started, n in self.runs if started >= since)

    def _own(self, source: str) -> None:
        if source != self.source:
            raise ValueError(f"the plan of {self.source!r} holds no cursors of {source!r}")


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any]) -> list[Any]:
    return con.execute(sql, list(params)).fetchall()


def read_plan(
    con: duckdb.DuckDBPyConnection, source: str, tool_ids: Sequence[str], now: datetime
) -> SourcePlan:
    """Read the cursors of ``source`` for ``tool_ids`` (one query per kind of cursor)."""
    ids = list(tool_ids)
    snap_since = _naive(now - SNAPSHOT_HORIZON)
    q_tools = "tool_id IN (SELECT unnest(?::VARCHAR[]))"
    http = {
        r[0]: (r[1], r[2], r[3])
        for r in _rows(con, "SELECT url, etag, last_modified, updated_at FROM http_cache", [])
    }
    days = {
        (r[0], r[1], source): r[2]
        for r in _rows(
            con,
            f"SELECT tool_id, package, max(day) FROM downloads_daily WHERE source = ? AND {q_tools}"
            " GROUP BY ALL",
            [source, ids],
        )
    }
    weeks = {
        (r[0], source): r[1]
        for r in _rows(
            con,
            f"SELECT tool_id, max(week_start) FROM star_history WHERE source = ? AND {q_tools}"
            " GROUP BY ALL",
            [source, ids],
        )
    }
    releases = {
        (r[0], source): r[1].replace(tzinfo=UTC)
        for r in _rows(
            con,
            f"SELECT tool_id, max(released_at) FROM releases WHERE source = ? AND {q_tools}"
            " AND released_at IS NOT NULL GROUP BY ALL",
            [source, ids],
        )
    }
    return SourcePlan(
        source=source,
        read_at=now,
        http=MappingProxyType(http),
        download_days=MappingProxyType(days),
        star_weeks=MappingProxyType(weeks),
        release_at=MappingProxyType(releases),
        snapshots=MappingProxyType(_snapshots(con, ids, snap_since)),
        months=MappingProxyType(
            {
                str(r[0]): frozenset(r[1])
                for r in _rows(
                    con,
                    "SELECT tool_id, list(month) FROM demand_monthly WHERE source = ?"
                    " GROUP BY tool_id",
                    [source],
                )
            }
        ),
        totals=MappingProxyType(
            {
                r[0]: int(r[1])
                for r in _rows(
                    con,
                    "SELECT month, max(total) FROM demand_monthly WHERE source = ? GROUP BY month",
                    [source],
                )
            }
        ),
        runs=tuple(
            (r[0].replace(tzinfo=UTC), int(r[1] or 0))
            for r in _rows(
                con,
                "SELECT started_at, requests FROM runs WHERE source = ? AND started_at >= ?",
                [source, _naive(now - RUNS_HORIZON)],
            )
        ),
    )


def _snapshots(
    con: duckdb.DuckDBPyConnection, ids: list[str], since: datetime
) -> dict[str, tuple[RepoSnapshotRecord, ...]]:
    """Per tool: its snapshots since ``since`` and its newest one, oldest first."""
    rows = _rows(
        con,
        "SELECT tool_id, repo, observed_at, stars, forks, open_issues, watchers, archived,"
        " pushed_at FROM repo_snapshots"
        " WHERE tool_id IN (SELECT unnest(?::VARCHAR[])) AND (observed_at >= ? OR observed_at ="
        " (SELECT max(observed_at) FROM repo_snapshots s WHERE s.tool_id = repo_snapshots.tool_id))"
        " ORDER BY tool_id, observed_at",
        [ids, since],
    )
    out: dict[str, list[RepoSnapshotRecord]] = {}
    for r in rows:
        observed = _utc(r[2])
        assert observed is not None
        out.setdefault(r[0], []).append(
            RepoSnapshotRecord(
                tool_id=r[0],
                repo=r[1],
                observed_at=observed,
                stars=r[3],
                forks=r[4],
                open_issues=r[5],
                watchers=r[6],
                archived=r[7],
                pushed_at=_utc(r[8]),
            )
        )
    return {k: tuple(v) for k, v in out.items()}
