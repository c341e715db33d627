"""`Store`, the warehouse's only writer: the transaction core with the run log and the writer.

Composition by mixins: `Store(Writer, RunLog)`, both over `StoreCore` (transaction.py: the
connection, the clock, one transaction per write, retried on a DuckLake); `RunLog` (runlog.py)
writes `runs` and `run_errors`, `Writer` (writer.py) the record tables by the rules their specs
declare (tables.py), `tools`/`skills` and the derived tables. The reads below (status, and
collector cursors that cursors.py's SourcePlan replaced) stay here until they are removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from tracker.records import RepoSnapshotRecord
from tracker.warehouse.runlog import RunLog
from tracker.warehouse.writer import Writer

__all__ = ["RunRow", "SourceStatus", "Store"]


def _naive(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class RunRow:
    """One row of `runs`."""

    run_id: int
    started_at: datetime
    finished_at: datetime | None
    source: str
    status: str
    tools_ok: int
    tools_failed: int
    requests: int
    error: str | None
    rows_written: int


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """What `tracker status` shows for one source."""

    source: str
    last_run: RunRow | None
    last_success_at: datetime | None
    rows: int
    stale_tools: tuple[str, ...]
    recent_errors: tuple[tuple[datetime, str | None, str], ...]


_SOURCE_ROWS = {
    "github": "SELECT (SELECT count(*) FROM repo_snapshots) + (SELECT count(*) FROM star_history)"
    " + (SELECT count(*) FROM releases WHERE source = 'github')",
    "pypi": "SELECT count(*) FROM releases WHERE source = 'pypi'",
    "apache": "SELECT count(*) FROM releases WHERE source = 'apache'",
    "pypistats": "SELECT count(*) FROM downloads_daily WHERE source = 'pypistats'",
    "clickpy": "SELECT count(*) FROM downloads_daily WHERE source = 'clickpy'",
    "hn": "SELECT count(*) FROM demand_monthly WHERE source = 'hn'",
    "stackoverflow": "SELECT count(*) FROM demand_monthly WHERE source = 'stackoverflow'",
}


class Store(Writer, RunLog):
    """Reads and writes the warehouse through one DuckDB connection."""

    # ---- reads for collectors (cursors come from stored rows, not state files) -------------
    def http_validators(self, url: str) -> tuple[str | None, str | None]:
        """Return the stored (etag, last_modified) for ``url``, or (None, None)."""
        row = self.con.execute(
            "SELECT etag, last_modified FROM http_cache WHERE url = ?", [url]
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def last_download_day(self, tool_id: str, package: str, source: str) -> date | None:
        """Return the newest stored day of ``package``'s downloads from ``source``."""
        row = self.con.execute(
            "SELECT max(day) FROM downloads_daily WHERE tool_id = ? AND package = ? AND source = ?",
            [tool_id, package, source],
        ).fetchone()
        return row[0] if row else None

    def last_star_week(self, tool_id: str, source: str = "github") -> date | None:
        """Return the newest stored week_start of ``tool_id``'s star history from ``source``."""
        row = self.con.execute(
            "SELECT max(week_start) FROM star_history WHERE tool_id = ? AND source = ?",
            [tool_id, source],
        ).fetchone()
        return row[0] if row else None

    def latest_snapshot(self, tool_id: str) -> tuple[datetime, int | None] | None:
        """Return (observed_at, stars) of ``tool_id``'s newest repo snapshot."""
        row = self.con.execute(
            "SELECT observed_at, stars FROM repo_snapshots WHERE tool_id = ?"
            " ORDER BY observed_at DESC LIMIT 1",
            [tool_id],
        ).fetchone()
        return (row[0], row[1]) if row else None

    def repo_identity(self, tool_id: str) -> tuple[int, str] | None:
        """Return (repo_id, full_name) stored for ``tool_id``'s GitHub repo."""
        row = self.con.execute(
            "SELECT repo_id, full_name FROM repo_identities WHERE tool_id = ?", [tool_id]
        ).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def last_success(self, source: str) -> datetime | None:
        """Return when ``source`` last finished a run with status ok or partial."""
        row = self.con.execute(
            "SELECT max(finished_at) FROM runs WHERE source = ? AND status IN ('ok', 'partial')",
            [source],
        ).fetchone()
        return row[0] if row else None

    # ---- status ----------------------------------------------------------------------------
    def source_status(self, source: str, *, error_limit: int = 5) -> SourceStatus:
        """Return last run, last success, stored rows, stale tools and recent errors of ``source``."""
        con = self.con
        row = con.execute(
            "SELECT run_id, started_at, finished_at, source, status, tools_ok, tools_failed,"
            " requests, error, rows_written FROM runs WHERE source = ?"
            " ORDER BY run_id DESC LIMIT 1",
            [source],
        ).fetchone()
        last_run = RunRow(*row) if row else None
        rows_sql = _SOURCE_ROWS.get(source)
        rows_row = con.execute(rows_sql).fetchone() if rows_sql else None
        # stale: tools whose latest error in this source is newer than their latest success.
        # An interrupted run is neither: its "not collected: stop requested" tools keep the
        # freshness of the last success, like the source does.
        stale = con.execute(
            """
            WITH last_err AS (
                SELECT e.tool_id, max(r.started_at) AS at FROM run_errors e
                JOIN runs r USING (run_id)
                WHERE e.source = ? AND e.tool_id IS NOT NULL AND r.status <> 'interrupted'
                GROUP BY 1
            ), last_ok AS (
                SELECT max(started_at) AS at FROM runs WHERE source = ? AND status IN ('ok','partial')
            )
            SELECT tool_id FROM last_err, last_ok
            WHERE last_ok.at IS NULL OR last_err.at >= last_ok.at ORDER BY tool_id
            """,
            [source, source],
        ).fetchall()
        errors = con.execute(
            "SELECT recorded_at, tool_id, error FROM run_errors WHERE source = ?"
            " ORDER BY recorded_at DESC, tool_id LIMIT ?",
            [source, error_limit],
        ).fetchall()
        return SourceStatus(
            source=source,
            last_run=last_run,
            last_success_at=self.last_success(source),
            rows=int(rows_row[0]) if rows_row else 0,
            stale_tools=tuple(str(r[0]) for r in stale),
            recent_errors=tuple((r[0], r[1], r[2]) for r in errors),
        )

    def table_counts(self, tables: Sequence[str]) -> dict[str, int]:
        """Return row counts of the named warehouse tables."""
        out = {}
        for table in tables:
            if not table.isidentifier():
                raise ValueError(table)
            row = self.con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
            out[table] = int(row[0]) if row else 0
        return out

    # ---- reads added for the download collectors -------------------------------------------
    def http_fetched_at(self, url: str) -> datetime | None:
        """Return when ``url`` was last fetched with success (naive UTC), from `http_cache`."""
        row = self.con.execute("SELECT updated_at FROM http_cache WHERE url = ?", [url]).fetchone()
        return row[0] if row else None

    # ---- GitHub cursors and renames (appended by the github collector) ---------------------
    def latest_snapshot_record(self, tool_id: str) -> RepoSnapshotRecord | None:
        """Return ``tool_id``'s newest repo snapshot (observed_at in UTC), or None."""
        rows = self._snapshot_rows("WHERE tool_id = ? ORDER BY observed_at DESC LIMIT 1", [tool_id])
        return rows[0] if rows else None

    def recent_snapshots(self, tool_id: str, since: datetime) -> tuple[RepoSnapshotRecord, ...]:
        """Return ``tool_id``'s snapshots observed at or after ``since``, oldest first."""
        return self._snapshot_rows(
            "WHERE tool_id = ? AND observed_at >= ? ORDER BY observed_at", [tool_id, _naive(since)]
        )

    def _snapshot_rows(self, where: str, params: list[object]) -> tuple[RepoSnapshotRecord, ...]:
        rows = self.con.execute(
            "SELECT tool_id, repo, observed_at, stars, forks, open_issues, watchers, archived,"
            " pushed_at FROM repo_snapshots " + where,
            params,
        ).fetchall()
        return tuple(
            RepoSnapshotRecord(
                tool_id=r[0],
                repo=r[1],
                observed_at=r[2].replace(tzinfo=UTC),
                stars=r[3],
                forks=r[4],
                open_issues=r[5],
                watchers=r[6],
                archived=r[7],
                pushed_at=r[8].replace(tzinfo=UTC) if r[8] is not None else None,
            )
            for r in rows
        )

    def last_release_at(self, tool_id: str, source: str) -> datetime | None:
        """Return the newest stored released_at (UTC) of ``tool_id``'s releases from ``source``."""
        row = self.con.execute(
            "SELECT max(released_at) FROM releases WHERE tool_id = ? AND source = ?",
            [tool_id, source],
        ).fetchone()
        return row[0].replace(tzinfo=UTC) if row and row[0] is not None else None

    # ---- demand cursors (hn, stackoverflow) ------------------------------------------------
    def demand_months(self, source: str) -> dict[str, frozenset[date]]:
        """Return, per tool, the months stored in `demand_monthly` for ``source``."""
        rows = self.con.execute(
            "SELECT tool_id, list(month) FROM demand_monthly WHERE source = ? GROUP BY tool_id",
            [source],
        ).fetchall()
        return {str(r[0]): frozenset(r[1]) for r in rows}

    def demand_totals(self, source: str) -> dict[date, int]:
        """Return the stored month totals of ``source`` (the same for every tool of a month)."""
        rows = self.con.execute(
            "SELECT month, max(total) FROM demand_monthly WHERE source = ? GROUP BY month",
            [source],
        ).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def requests_since(self, source: str, since: datetime) -> int:
        """Return the requests that runs of ``source`` started at or after ``since`` logged."""
        row = self.con.execute(
            "SELECT coalesce(sum(requests), 0) FROM runs WHERE source = ? AND started_at >= ?",
            [source, _naive(since)],
        ).fetchone()
        return int(row[0]) if row else 0
