"""The only writer: idempotent upserts per table, runs log, and the reads collectors need.

Write rules, one per table (the key is the table's primary key):
- releases         upsert on (tool_id, source, project, version)
- downloads_daily  replace on (tool_id, package, day, source): re-collecting a day overwrites it
                   (delete + insert, no index: bulk loads stay fast)
- star_history     upsert on (tool_id, week_start); a 'snapshot' row never replaces a 'github' row
- repo_snapshots   append (key tool_id, repo, observed_at)
- repo_identities  upsert on tool_id
- http_cache       upsert on url
- demand_monthly   upsert on (tool_id, source, month): a re-read month replaces the stored one

On a DuckLake target (see lake.py) the same rules run as DELETE + INSERT on the key, and every
write is one transaction that is re-run when it conflicts with another writer's commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from tracker.clock import Clock, naive_utc, utc_now
from tracker.records import RepoSnapshotRecord, ToolBatch

if TYPE_CHECKING:
    import duckdb

    from tracker.catalog import Catalog

__all__ = ["RunRow", "SourceStatus", "Store"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def _naive(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


# Each statement reads the registered Arrow table `_src` (one column per field, same names).
_UPSERTS: dict[str, str] = {
    "releases": """
        INSERT INTO releases (tool_id, source, project, version, released_at, is_prerelease,
                              is_yanked, version_valid, title)
        SELECT tool_id, source, project, version, released_at, is_prerelease, is_yanked,
               version_valid, title FROM _src
        ON CONFLICT (tool_id, source, project, version) DO UPDATE SET
            released_at = excluded.released_at, is_prerelease = excluded.is_prerelease,
            is_yanked = excluded.is_yanked, version_valid = excluded.version_valid,
            title = excluded.title
    """,
    # no primary key (see migration 001): delete the batch's keys, then insert one row per key
    "downloads_daily": """
        DELETE FROM downloads_daily
        WHERE tool_id BETWEEN $min_tool AND $max_tool AND day BETWEEN $min_day AND $max_day
          AND (tool_id, package, day, source) IN (SELECT tool_id, package, day, source FROM _src);
        INSERT INTO downloads_daily (tool_id, package, day, downloads, source)
        SELECT tool_id, package, day, max(downloads), source FROM _src GROUP BY tool_id, package, day, source
    """,
    "star_history": """
        INSERT INTO star_history (tool_id, repo, week_start, stars_added, source)
        SELECT tool_id, repo, week_start, stars_added, source FROM _src
        ON CONFLICT (tool_id, week_start) DO UPDATE SET
            repo = CASE WHEN star_history.source = 'github' AND excluded.source = 'snapshot'
                        THEN star_history.repo ELSE excluded.repo END,
            stars_added = CASE WHEN star_history.source = 'github' AND excluded.source = 'snapshot'
                               THEN star_history.stars_added ELSE excluded.stars_added END,
            source = CASE WHEN star_history.source = 'github' AND excluded.source = 'snapshot'
                          THEN star_history.source ELSE excluded.source END
    """,
    "repo_snapshots": """
        INSERT INTO repo_snapshots (tool_id, repo, observed_at, stars, forks, open_issues,
                                    watchers, archived, pushed_at)
        SELECT tool_id, repo, observed_at, stars, forks, open_issues, watchers, archived,
               pushed_at FROM _src
        ON CONFLICT (tool_id, repo, observed_at) DO NOTHING
    """,
    "repo_identities": """
        INSERT INTO repo_identities (tool_id, repo_id, full_name, catalog_name, created_at,
                                     description, updated_at)
        SELECT tool_id, repo_id, full_name, catalog_name, created_at, description, updated_at
        FROM _src
        ON CONFLICT (tool_id) DO UPDATE SET
            repo_id = excluded.repo_id, full_name = excluded.full_name,
            catalog_name = excluded.catalog_name, created_at = excluded.created_at,
            description = excluded.description, updated_at = excluded.updated_at
    """,
    "demand_monthly": """
        INSERT INTO demand_monthly (tool_id, source, month, mentions, total)
        SELECT tool_id, source, month, mentions, total FROM _src
        ON CONFLICT (tool_id, source, month) DO UPDATE SET
            mentions = excluded.mentions, total = excluded.total
    """,
    "http_cache": """
        INSERT INTO http_cache (url, etag, last_modified, updated_at)
        SELECT url, etag, last_modified, updated_at FROM _src
        ON CONFLICT (url) DO UPDATE SET etag = excluded.etag,
            last_modified = excluded.last_modified, updated_at = excluded.updated_at
    """,
}

# Arrow types of each table's columns (the order and names _UPSERTS reads).
_ARROW_SCHEMAS: dict[str, list[tuple[str, str]]] = {
    "releases": [
        ("tool_id", "string"),
        ("source", "string"),
        ("project", "string"),
        ("version", "string"),
        ("released_at", "timestamp"),
        ("is_prerelease", "bool"),
        ("is_yanked", "bool"),
        ("version_valid", "bool"),
        ("title", "string"),
    ],
    "downloads_daily": [
        ("tool_id", "string"),
        ("package", "string"),
        ("day", "date"),
        ("downloads", "int64"),
        ("source", "string"),
    ],
    "star_history": [
        ("tool_id", "string"),
        ("repo", "string"),
        ("week_start", "date"),
        ("stars_added", "int64"),
        ("source", "string"),
    ],
    "repo_snapshots": [
        ("tool_id", "string"),
        ("repo", "string"),
        ("observed_at", "timestamp"),
        ("stars", "int64"),
        ("forks", "int64"),
        ("open_issues", "int64"),
        ("watchers", "int64"),
        ("archived", "bool"),
        ("pushed_at", "timestamp"),
    ],
    "repo_identities": [
        ("tool_id", "string"),
        ("repo_id", "int64"),
        ("full_name", "string"),
        ("catalog_name", "string"),
        ("created_at", "timestamp"),
        ("description", "string"),
        ("updated_at", "timestamp"),
    ],
    "demand_monthly": [
        ("tool_id", "string"),
        ("source", "string"),
        ("month", "date"),
        ("mentions", "int64"),
        ("total", "int64"),
    ],
    "http_cache": [
        ("url", "string"),
        ("etag", "string"),
        ("last_modified", "string"),
        ("updated_at", "timestamp"),
    ],
}


def _arrow_table(table: str, columns: Sequence[Sequence[object]]) -> Any:
    """Return a pyarrow Table for ``table``'s upsert from column lists (same order as schema)."""
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "timestamp": pa.timestamp("us"),
        "bool": pa.bool_(),
        "date": pa.date32(),
        "int64": pa.int64(),
    }
    schema = _ARROW_SCHEMAS[table]
    return pa.table(
        {
            name: pa.array(col, type=types[kind])
            for (name, kind), col in zip(schema, columns, strict=True)
        }
    )


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


_TOOLS_UPSERT = (
    " ON CONFLICT (tool_id) DO UPDATE SET name = excluded.name, skill = excluded.skill,"
    " github_repo = excluded.github_repo, pypi_packages = excluded.pypi_packages,"
    " trackable = excluded.trackable, notes = excluded.notes,"
    " apache_project = excluded.apache_project, formerly = excluded.formerly,"
    " in_catalog = true, updated_at = excluded.updated_at"
)


class Store:
    """Reads and writes the warehouse through one DuckDB connection."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        clock: Clock = utc_now,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from tracker.warehouse.lake import is_lake

        self.con = con
        # the run's clock (the collectors' CollectContext.now): stamps the run log and tools
        self.clock = clock
        self.lake = is_lake(con)  # DuckLake: DELETE + INSERT upserts, retried transactions
        self._sleep = sleep  # backoff between retries of a conflicting lake transaction
        self.conflicts_retried = 0
        self._bumped = False

    def _bump(self) -> None:
        if not self._bumped:
            from tracker.warehouse.lake import bump_writes

            bump_writes(self.con)
            self._bumped = True

    def _transaction(self, body: Callable[[], T], what: str = "write") -> T:
        """Run ``body`` in one transaction (on the lake: re-run when a commit conflicts)."""
        con = self.con
        if self.lake:
            from tracker.warehouse.lake import run_transaction

            def fresh() -> T:
                self._bumped = False  # each attempt marks itself once (see lake.bump_writes)
                return body()

            return run_transaction(con, fresh, what=what, sleep=self._sleep, on_retry=self._retried)
        con.execute("BEGIN TRANSACTION")
        try:
            result = body()
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return result

    def _retried(self, attempt: int) -> None:
        self.conflicts_retried += 1

    def _autocommit(self, sql: str, params: list[object]) -> None:
        """Run one write statement (on the lake: as a retried transaction)."""
        if self.lake:
            self._transaction(lambda: self.con.execute(sql, params), what=sql.split()[0].lower())
        else:
            self.con.execute(sql, params)

    def _now(self) -> datetime:
        return naive_utc(self.clock())

    # ---- catalog ---------------------------------------------------------------------------
    def refresh_tools(self, catalog: Catalog) -> None:
        """Replace `tools` and `skills` with the catalog; tools that left it keep in_catalog=false.

        One bulk statement per table (through Arrow), in one transaction: on a file an upsert
        on tool_id, on the lake delete + insert (its tables have no keys to conflict on)."""
        now = self._now()
        self._transaction(lambda: self._refresh_tools(catalog, now), "refresh tools")

    def _refresh_tools(self, catalog: Catalog, now: datetime) -> None:
        import pyarrow as pa

        con = self.con
        if self.lake:
            self._bump()
        con.execute("DELETE FROM skills")
        skills = pa.table(
            {
                "skill": list(catalog.skills),
                "title": list(catalog.skills.values()),
                "position": pa.array(range(len(catalog.skills)), pa.int32()),
            }
        )
        tools = catalog.tools
        rows = pa.table(
            {
                "tool_id": [t.id for t in tools],
                "name": [t.name for t in tools],
                "skill": [t.skill for t in tools],
                "github_repo": pa.array([t.github for t in tools], pa.string()),
                "pypi_packages": pa.array([list(t.pypi) for t in tools], pa.list_(pa.string())),
                "trackable": [t.trackable for t in tools],
                "notes": pa.array([t.notes for t in tools], pa.string()),
                "apache_project": pa.array([t.apache for t in tools], pa.string()),
                "formerly": pa.array([list(t.formerly) for t in tools], pa.list_(pa.string())),
            }
        )
        con.register("_skills", skills)
        con.register("_tools", rows)
        try:
            con.execute("INSERT INTO skills SELECT skill, title, position FROM _skills")
            con.execute(
                "UPDATE tools SET in_catalog = false, updated_at = ?"
                " WHERE tool_id NOT IN (SELECT tool_id FROM _tools)",
                [now],
            )
            if self.lake:
                con.execute("DELETE FROM tools WHERE tool_id IN (SELECT tool_id FROM _tools)")
            con.execute(
                "INSERT INTO tools (tool_id, name, skill, github_repo, pypi_packages, trackable,"
                " notes, apache_project, formerly, in_catalog, updated_at)"
                " SELECT tool_id, name, skill, github_repo, pypi_packages, trackable, notes,"
                " apache_project, formerly, true, ? FROM _tools"
                + ("" if self.lake else _TOOLS_UPSERT),
                [now],
            )
        finally:
            con.unregister("_skills")
            con.unregister("_tools")

    # ---- runs ------------------------------------------------------------------------------
    def mark_interrupted_runs(self) -> int:
        """Close runs left 'running' by a killed process (call while holding the lock).

        On the lake there is no lock: only runs whose process is known to be gone (same host,
        pid no longer alive) or that started more than a day ago are closed.
        """
        if self.lake:
            return self._transaction(self._mark_interrupted_lake, "close interrupted runs")
        rows = self.con.execute(
            "UPDATE runs SET status = 'interrupted', finished_at = coalesce(finished_at, started_at),"
            " error = coalesce(error, 'the process stopped before the run finished')"
            " WHERE status = 'running' RETURNING run_id"
        ).fetchall()
        return len(rows)

    def _mark_interrupted_lake(self) -> int:
        from datetime import timedelta

        from tracker.warehouse.lake import owner, pid_alive

        host, _ = owner()
        rows = self.con.execute(
            "SELECT r.run_id, r.started_at, o.host, o.pid FROM runs r"
            " LEFT JOIN lake_run_owners o USING (run_id) WHERE r.status = 'running'"
        ).fetchall()
        cutoff = self._now() - timedelta(days=1)
        gone = [
            int(run_id)
            for run_id, started, run_host, pid in rows
            if (run_host == host and pid is not None and not pid_alive(int(pid)))
            or started < cutoff
        ]
        if gone:
            self.con.execute(
                "UPDATE runs SET status = 'interrupted',"
                " finished_at = coalesce(finished_at, started_at),"
                " error = coalesce(error, 'the process stopped before the run finished')"
                " WHERE run_id IN (SELECT unnest(?::BIGINT[]))",
                [gone],
            )
        return len(gone)

    def start_run(self, source: str) -> int:
        """Insert a 'running' row into `runs` and return its run_id."""
        if self.lake:
            return self._transaction(lambda: self._start_run_lake(source), "start run")
        row = self.con.execute(
            "INSERT INTO runs (started_at, source, status) VALUES (?, ?, 'running') RETURNING run_id",
            [self._now(), source],
        ).fetchone()
        assert row is not None
        return int(row[0])

    def _start_run_lake(self, source: str) -> int:
        from tracker.warehouse.lake import next_value, owner

        run_id = next_value(self.con, "run_id_seq")
        self.con.execute(
            "INSERT INTO runs (run_id, started_at, source, status, tools_ok, tools_failed,"
            " requests, rows_written) VALUES (?, ?, ?, 'running', 0, 0, 0, 0)",
            [run_id, self._now(), source],
        )
        host, pid = owner()
        self.con.execute("INSERT INTO lake_run_owners VALUES (?, ?, ?)", [run_id, host, pid])
        return run_id

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        tools_ok: int,
        tools_failed: int,
        requests: int,
        rows_written: int,
        error: str | None = None,
    ) -> None:
        """Close a run with its outcome."""
        self._autocommit(
            "UPDATE runs SET finished_at = ?, status = ?, tools_ok = ?, tools_failed = ?,"
            " requests = ?, rows_written = ?, error = ? WHERE run_id = ?",
            [self._now(), status, tools_ok, tools_failed, requests, rows_written, error, run_id],
        )

    def interrupt_run(
        self, run_id: int, *, tools_ok: int, tools_failed: int, requests: int, rows_written: int
    ) -> None:
        """Mark a still-running run ``interrupted`` at once (a second signal is ending the process).

        Uses its own cursor: the caller may be a signal handler that interrupted a tool's open
        transaction on the main connection (never committed) or another thread's job.
        """
        sql = (
            "UPDATE runs SET finished_at = ?, status = 'interrupted', tools_ok = ?,"
            " tools_failed = ?, requests = ?, rows_written = ?,"
            " error = 'stopped at once by a second signal; the tool in progress was not stored'"
            " WHERE run_id = ? AND status = 'running'"
        )
        params = [self._now(), tools_ok, tools_failed, requests, rows_written, run_id]
        cur = self.con.cursor()
        try:
            if self.lake:  # a cursor starts on the in-memory database: point it at the lake
                from tracker.warehouse.lake import LAKE_ALIAS, run_transaction

                cur.execute(f"USE {LAKE_ALIAS}")
                run_transaction(
                    cur, lambda: cur.execute(sql, params), what="interrupt run", sleep=self._sleep
                )
            else:
                cur.execute(sql, params)
        finally:
            cur.close()

    def add_run_error(self, run_id: int, source: str, tool_id: str | None, error: str) -> None:
        """Record one error of a run (tool_id None: the whole source)."""
        self._autocommit(
            "INSERT INTO run_errors VALUES (?, ?, ?, ?, ?)",
            [run_id, source, tool_id, error, self._now()],
        )

    # ---- batches ---------------------------------------------------------------------------
    def _upsert(self, table: str, columns: Sequence[Sequence[object]]) -> int:
        """Upsert column lists into ``table`` by its write rule (bulk, through Arrow)."""
        n = len(columns[0])
        if n == 0:
            return 0
        self.con.register("_src", _arrow_table(table, columns))
        try:
            if self.lake and table != "downloads_daily":
                from tracker.warehouse.lake import LAKE_UPSERTS

                self._bump()
                bounds = {}
                if "tool_id" in _ARROW_SCHEMAS[table][0]:
                    row = self.con.execute("SELECT min(tool_id), max(tool_id) FROM _src").fetchone()
                    assert row is not None
                    bounds = {"min_tool": row[0], "max_tool": row[1]}
                for statement in LAKE_UPSERTS[table].split(";"):
                    params = {k: v for k, v in bounds.items() if f"${k}" in statement}
                    self.con.execute(statement, params)
            elif table == "downloads_daily":
                if self.lake:
                    self._bump()
                row = self.con.execute(
                    "SELECT min(tool_id), max(tool_id), min(day), max(day) FROM _src"
                ).fetchone()
                assert row is not None
                bounds = dict(zip(("min_tool", "max_tool", "min_day", "max_day"), row, strict=True))
                for statement in _UPSERTS[table].split(";"):
                    params = {k: v for k, v in bounds.items() if f"${k}" in statement}
                    self.con.execute(statement, params)
            else:
                self.con.execute(_UPSERTS[table])
        finally:
            self.con.unregister("_src")
        return n

    def write_batch(self, batch: ToolBatch) -> int:
        """Store one tool's batch in one transaction; return the number of rows written."""
        return self.write_batches([batch])

    def write_batches(self, batches: Sequence[ToolBatch]) -> int:
        """Store several tools' batches in ONE transaction (one statement per table for all of
        them); return the number of rows written. All are stored, or none."""
        if not batches:
            return 0
        now = self._now()
        r, d, s, p, i, h, m = (
            tuple(x for b in batches for x in b.releases),
            tuple(x for b in batches for x in b.downloads),
            tuple(x for b in batches for x in b.star_weeks),
            tuple(x for b in batches for x in b.snapshots),
            tuple(x for b in batches for x in b.identities),
            tuple({x.url: x for b in batches for x in b.http_cache}.values()),  # one per url
            tuple(x for b in batches for x in b.demand),
        )

        def body() -> int:
            written = self._upsert(
                "releases",
                [
                    [x.tool_id for x in r],
                    [x.source for x in r],
                    [x.project for x in r],
                    [x.version for x in r],
                    [_naive(x.released_at) for x in r],
                    [x.is_prerelease for x in r],
                    [x.is_yanked for x in r],
                    [x.version_valid for x in r],
                    [x.title for x in r],
                ],
            )
            written += self._upsert(
                "downloads_daily",
                [
                    [x.tool_id for x in d],
                    [x.package for x in d],
                    [x.day for x in d],
                    [x.downloads for x in d],
                    [x.source for x in d],
                ],
            )
            written += self._upsert(
                "star_history",
                [
                    [x.tool_id for x in s],
                    [x.repo for x in s],
                    [x.week_start for x in s],
                    [x.stars_added for x in s],
                    [x.source for x in s],
                ],
            )
            written += self._upsert(
                "repo_snapshots",
                [
                    [x.tool_id for x in p],
                    [x.repo for x in p],
                    [_naive(x.observed_at) for x in p],
                    [x.stars for x in p],
                    [x.forks for x in p],
                    [x.open_issues for x in p],
                    [x.watchers for x in p],
                    [x.archived for x in p],
                    [_naive(x.pushed_at) for x in p],
                ],
            )
            for identity in i:  # before the upsert: compares with the stored id
                self._carry_repo_name(identity.tool_id, identity.repo_id, identity.full_name)
            written += self._upsert(
                "repo_identities",
                [
                    [x.tool_id for x in i],
                    [x.repo_id for x in i],
                    [x.full_name for x in i],
                    [x.catalog_name for x in i],
                    [_naive(x.created_at) for x in i],
                    [x.description for x in i],
                    [now] * len(i),
                ],
            )
            written += self._upsert(
                "demand_monthly",
                [
                    [x.tool_id for x in m],
                    [x.source for x in m],
                    [x.month for x in m],
                    [x.mentions for x in m],
                    [x.total for x in m],
                ],
            )
            self._upsert(
                "http_cache",
                [
                    [x.url for x in h],
                    [x.etag for x in h],
                    [x.last_modified for x in h],
                    [naive_utc(x.fetched_at) for x in h],
                ],
            )
            return written

        what = batches[0].tool_id if len(batches) == 1 else f"{len(batches)} tools"
        return self._transaction(body, f"store {what}")

    def write_downloads_columns(
        self,
        tool_ids: Sequence[str],
        packages: Sequence[str],
        days: Sequence[date],
        downloads: Sequence[int],
        source: str,
    ) -> int:
        """Bulk-upsert daily downloads given as columns, in one transaction; return rows written."""
        return self._transaction(
            lambda: self._upsert(
                "downloads_daily", [tool_ids, packages, days, downloads, [source] * len(days)]
            ),
            "store downloads",
        )

    def replace_all(
        self, table: str, rows: Any, *, where: Mapping[str, object] | None = None
    ) -> int:
        """Replace every row of a derived ``table`` (e.g. labels a report computes) with the
        pyarrow Table ``rows`` (same column names), in one transaction, on either backend.

        ``where`` (column -> value) limits the replaced rows to those matching it."""
        return self.replace_tables({table: rows}, where=where)

    def replace_tables(
        self, tables: Mapping[str, Any], *, where: Mapping[str, object] | None = None
    ) -> int:
        """Replace the rows of several derived tables (table -> pyarrow Table) in ONE
        transaction; ``where`` as for replace_all. Return the rows inserted."""
        names = list(tables)
        for name in [*names, *(where or {})]:
            if not name.isidentifier():
                raise ValueError(name)
        cond = " AND ".join(f'"{col}" = ?' for col in where or {})
        params = list((where or {}).values())

        def body() -> int:
            if self.lake:
                self._bump()
            inserted = 0
            for table in names:
                rows = tables[table]
                self.con.execute(
                    f'DELETE FROM "{table}"' + (f" WHERE {cond}" if cond else ""), params
                )
                if not rows.num_rows:
                    continue
                self.con.register("_replace_src", rows)
                try:
                    self.con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM _replace_src')
                finally:
                    self.con.unregister("_replace_src")
                inserted += int(rows.num_rows)
            return inserted

        return self._transaction(body, f"replace {', '.join(names)}")

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

    def _carry_repo_name(self, tool_id: str, repo_id: int, full_name: str) -> None:
        """After a rename (same GitHub id, new name), move the tool's GitHub rows to the new name.

        Releases are keyed by project, so without this a renamed repo would list each release
        twice; rows already present under the new name win. A different repo_id (the catalog
        now points at another repo) leaves the earlier rows alone.
        """
        con = self.con
        rows = con.execute(
            "SELECT repo_id, full_name FROM repo_identities WHERE tool_id = ?", [tool_id]
        ).fetchall()  # fetchall: leaves no open result behind (DuckDB refuses register() then)
        row = rows[0] if rows else None
        if row is None or int(row[0]) != repo_id or row[1] == full_name:
            return
        if self.lake:
            from tracker.warehouse.lake import LAKE_CARRY_RELEASES

            self._bump()
            con.execute(LAKE_CARRY_RELEASES, {"new": full_name, "tool": tool_id})
        else:
            con.execute(
                "INSERT INTO releases (tool_id, source, project, version, released_at,"
                " is_prerelease, is_yanked, version_valid, title)"
                " SELECT tool_id, source, ?, version, released_at, is_prerelease, is_yanked,"
                " version_valid, title FROM releases"
                " WHERE tool_id = ? AND source = 'github' AND project <> ?"
                " ON CONFLICT (tool_id, source, project, version) DO NOTHING",
                [full_name, tool_id, full_name],
            )
        con.execute(
            "DELETE FROM releases WHERE tool_id = ? AND source = 'github' AND project <> ?",
            [tool_id, full_name],
        )
        con.execute(
            "UPDATE star_history SET repo = ? WHERE tool_id = ? AND repo <> ?",
            [full_name, tool_id, full_name],
        )
