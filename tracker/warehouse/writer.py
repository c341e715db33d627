"""The only writer of the warehouse's tables: records, tools, and tables derived by a report.

A mixin of `Store` (store.py) over the transaction core (transaction.py). Each record table is
written by the rule its spec declares (tables.py), in bulk through Arrow: one statement per
table for all the batches of a transaction. On a DuckLake every write also bumps `lake_writes`
(lake.bump_writes), so that two transactions writing records always conflict and one re-runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from tracker.records import ToolBatch
from tracker.warehouse.tables import (
    DEMAND,
    DOWNLOADS,
    HTTP_CACHE,
    RELEASES,
    REPO_IDENTITIES,
    REPO_SNAPSHOTS,
    STAR_HISTORY,
    TableSpec,
)
from tracker.warehouse.transaction import StoreCore

if TYPE_CHECKING:
    from tracker.catalog import Catalog

__all__ = ["Writer"]

# (ToolBatch field, table) in write order; http_cache (validators, not rows) is written last
_BATCH_TABLES: tuple[tuple[str, TableSpec], ...] = (
    ("releases", RELEASES),
    ("downloads", DOWNLOADS),
    ("star_weeks", STAR_HISTORY),
    ("snapshots", REPO_SNAPSHOTS),
    ("identities", REPO_IDENTITIES),
    ("demand", DEMAND),
)

_TOOLS_UPSERT = (
    " ON CONFLICT (tool_id) DO UPDATE SET name = excluded.name, skill = excluded.skill,"
    " github_repo = excluded.github_repo, pypi_packages = excluded.pypi_packages,"
    " trackable = excluded.trackable, notes = excluded.notes,"
    " apache_project = excluded.apache_project, formerly = excluded.formerly,"
    " in_catalog = true, updated_at = excluded.updated_at"
)


class Writer(StoreCore):
    """Idempotent writes of records (by each table's rule), tools and derived tables."""

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

    # ---- batches ---------------------------------------------------------------------------
    def write_batch(self, batch: ToolBatch) -> int:
        """Store one tool's batch in one transaction; return the number of rows written."""
        return self.write_batches([batch])

    def write_batches(self, batches: Sequence[ToolBatch]) -> int:
        """Store several tools' batches in ONE transaction (one statement per table for all of
        them); return the number of rows written. All are stored, or none."""
        if not batches:
            return 0
        now = self._now()
        rows = {
            field: spec.records_arrow([x for b in batches for x in getattr(b, field)], now)
            for field, spec in _BATCH_TABLES
        }
        identities = [x for b in batches for x in b.identities]
        cache = HTTP_CACHE.records_arrow(
            list({x.url: x for b in batches for x in b.http_cache}.values())  # one per url
        )

        def body() -> int:
            written = 0
            for field, spec in _BATCH_TABLES:
                if spec is REPO_IDENTITIES:
                    for x in identities:  # before the upsert: compares with the stored id
                        self._carry_repo_name(x.tool_id, x.repo_id, x.full_name)
                written += self._upsert(spec, rows[field])
            self._upsert(HTTP_CACHE, cache)
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
        rows = DOWNLOADS.arrow([tool_ids, packages, days, downloads, [source] * len(days)])
        return self._transaction(lambda: self._upsert(DOWNLOADS, rows), "store downloads")

    def _upsert(self, spec: TableSpec, rows: Any) -> int:
        """Write the pyarrow Table ``rows`` into ``spec``'s table by its rule; return its rows."""
        if not rows.num_rows:
            return 0
        con = self.con
        statements = spec.statements(lake=self.lake)
        con.register("_src", rows)
        try:
            if self.lake:
                self._bump()
            bounds = self._bounds(spec) if any("$" in s for s in statements) else {}
            for statement in statements:
                con.execute(statement, bounds if "$" in statement else None)
        finally:
            con.unregister("_src")
        return int(rows.num_rows)

    def _bounds(self, spec: TableSpec) -> dict[str, object]:
        """The min and max of ``spec.bounds`` in `_src`, as ``min_<col>`` and ``max_<col>``."""
        cols = spec.bounds
        row = self.con.execute(
            "SELECT " + ", ".join(f"min({c}), max({c})" for c in cols) + " FROM _src"
        ).fetchone()
        assert row is not None
        names = [f"{m}_{c}" for c in cols for m in ("min", "max")]
        return dict(zip(names, row, strict=True))

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
        params: dict[str, object] = {"new": full_name, "tool": tool_id}
        if self.lake:
            self._bump()
            params |= {"min_tool_id": tool_id, "max_tool_id": tool_id}
        con.execute(_carry_releases(lake=self.lake), params)
        con.execute(
            "DELETE FROM releases WHERE tool_id = ? AND source = 'github' AND project <> ?",
            [tool_id, full_name],
        )
        con.execute(
            "UPDATE star_history SET repo = ? WHERE tool_id = ? AND repo <> ?",
            [full_name, tool_id, full_name],
        )

    # ---- derived tables --------------------------------------------------------------------
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


def _carry_releases(*, lake: bool) -> str:
    """Copy a tool's GitHub releases to the project ``$new`` (the ones not stored under it)."""
    moved = ", ".join("$new AS project" if n == "project" else n for n in RELEASES.names)
    source = (
        f"(SELECT {moved} FROM releases"
        " WHERE tool_id = $tool AND source = 'github' AND project <> $new)"
    )
    if lake:
        return RELEASES.insert_missing(source)
    cols = ", ".join(RELEASES.names)
    return (
        f"INSERT INTO releases ({cols}) SELECT {cols} FROM {source} s"
        f" ON CONFLICT ({', '.join(RELEASES.key)}) DO NOTHING"
    )
