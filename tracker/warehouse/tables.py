"""The record tables, each declared once: its record class, its key and its write rule.

Columns (names, order, Arrow types, nullability) come from the record dataclass's fields
(records.py) and their annotations; a table may add one column the store stamps with its clock
(repo_identities.updated_at). From a spec come the Arrow table of a list of records and the
statements of its write rule on a DuckDB file (ON CONFLICT on the primary key) and on a
DuckLake (no keys: DELETE + INSERT on the key). Write rules:

- ``update``   a row replaces the stored one with its key (releases, repo_identities,
               http_cache, demand_monthly); with ``protect`` (star_history) a stored row whose
               column is ``kept`` ('github') is never replaced by one whose is ``weaker``
               ('snapshot')
- ``ignore``   the stored row stays (repo_snapshots: append-only)
- ``replace``  delete the batch's keys, then insert one row per key, the largest values
               (downloads_daily: no primary key, so that bulk loads stay fast; same statements
               on both backends)

Statements read the registered Arrow table ``_src``. Those marked with ``$min_<col>`` /
``$max_<col>`` parameters take the bounds of the key's tool_id and date columns in ``_src``:
constants that let DuckDB and DuckLake skip the row groups and files that cannot match.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from operator import attrgetter
from typing import Any, Literal, NamedTuple

from tracker.records import (
    DemandRecord,
    DownloadRecord,
    HttpCacheRecord,
    ReleaseRecord,
    RepoIdentityRecord,
    RepoSnapshotRecord,
    StarWeekRecord,
)

__all__ = [
    "DEMAND",
    "DOWNLOADS",
    "HTTP_CACHE",
    "RELEASES",
    "REPO_IDENTITIES",
    "REPO_SNAPSHOTS",
    "STAR_HISTORY",
    "TABLES",
    "Column",
    "Protect",
    "TableSpec",
]

Rule = Literal["update", "ignore", "replace"]
# Python type -> DuckDB column type (Arrow types: _arrow_types)
_SQL_TYPES: dict[type, str] = {
    str: "VARCHAR",
    int: "BIGINT",
    bool: "BOOLEAN",
    date: "DATE",
    datetime: "TIMESTAMP",  # naive UTC
}


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its name, Python type and whether it may be NULL."""

    name: str
    type: type
    nullable: bool

    @property
    def sql_type(self) -> str:
        """The column's DuckDB type, as information_schema names it."""
        return _SQL_TYPES[self.type]


class Protect(NamedTuple):
    """A stored row whose ``column`` is ``kept`` is never replaced by one whose is ``weaker``."""

    column: str
    kept: str
    weaker: str


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A record table: name, record class, key columns and write rule (see the module doc)."""

    name: str
    record: type
    key: tuple[str, ...]
    rule: Rule = "update"
    protect: Protect | None = None
    stamp: str | None = None  # a NOT NULL timestamp column the store fills with its clock
    columns: tuple[Column, ...] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(self.record)
        cols = [_column(f.name, hints[f.name]) for f in dataclasses.fields(self.record)]
        if self.stamp:
            cols.append(Column(self.stamp, datetime, nullable=False))
        object.__setattr__(self, "columns", tuple(cols))
        names = {c.name for c in cols}
        if not set(self.key) <= names or (self.protect and self.protect.column not in names):
            raise ValueError(f"{self.name}: key or protected column is not a column")

    @property
    def names(self) -> tuple[str, ...]:
        """The column names, in table order."""
        return tuple(c.name for c in self.columns)

    @property
    def bounds(self) -> tuple[str, ...]:
        """The key columns whose min/max bound the DELETEs and lookups (tool_id and dates)."""
        by_name = {c.name: c for c in self.columns}
        return tuple(k for k in self.key if k == "tool_id" or by_name[k].type is date)

    def arrow(self, columns: Sequence[Sequence[object]]) -> Any:
        """Return a pyarrow Table of column lists given in table order (naive UTC times)."""
        import pyarrow as pa

        kinds = _arrow_types()
        return pa.table(
            {
                c.name: pa.array(values, type=kinds[c.type])
                for c, values in zip(self.columns, columns, strict=True)
            }
        )

    def records_arrow(self, records: Sequence[Any], now: datetime | None = None) -> Any:
        """Return the pyarrow Table of ``records`` (aware times become naive UTC); ``now``
        fills the stamped column."""
        fields = self.names[:-1] if self.stamp else self.names
        rows = list(map(attrgetter(*fields), records))  # one tuple per record
        values = list(zip(*rows, strict=True)) if rows else [()] * len(fields)
        # aware datetimes need no conversion here: pyarrow stores them as UTC in a timestamp
        # column without a zone (naive ones as they are, which is our naive-UTC convention)
        columns: list[Sequence[object]] = list(values)
        if self.stamp:
            columns.append([now] * len(records))
        return self.arrow(columns)

    def statements(self, *, lake: bool) -> tuple[str, ...]:
        """The statements of this table's write rule (reading ``_src``) on a file or a lake."""
        cols = ", ".join(self.names)
        key = ", ".join(self.key)
        insert = f"INSERT INTO {self.name} ({cols}) SELECT {cols} FROM _src"
        if self.rule == "replace":
            values = ", ".join(n if n in self.key else f"max({n})" for n in self.names)
            return (
                f"DELETE FROM {self.name} WHERE {self._bounded()}({key}) IN"
                f" (SELECT {key} FROM _src)",
                f"INSERT INTO {self.name} ({cols}) SELECT {values} FROM _src GROUP BY {key}",
            )
        if not lake:
            return (f"{insert} ON CONFLICT ({key}) DO {self._on_conflict()}",)
        if self.rule == "ignore":
            return (self.insert_missing("_src"),)
        if self.protect is None:
            return (
                f"DELETE FROM {self.name} WHERE {self._bounded()}({key}) IN"
                f" (SELECT {key} FROM _src)",
                f"{insert} QUALIFY row_number() OVER (PARTITION BY {key}) = 1",
            )
        p = self.protect
        hkey = ", ".join(f"h.{k}" for k in self.key)
        # delete what is replaced, then insert the keys no longer there (the protected still are)
        return (
            f"DELETE FROM {self.name} h WHERE {self._bounded('h.')}({hkey}) IN"
            f" (SELECT {key} FROM _src) AND NOT (h.{p.column} = '{p.kept}' AND ({hkey}) IN"
            f" (SELECT {key} FROM _src WHERE {p.column} = '{p.weaker}'))",
            self.insert_missing("_src", order=f"{p.column} = '{p.kept}' DESC"),
        )

    def insert_missing(self, source: str, order: str = "") -> str:
        """On a lake: insert the rows of ``source`` whose key is not stored, one per key."""
        cols = ", ".join(self.names)
        match = " AND ".join(f"x.{k} = s.{k}" for k in self.key)
        over = f"PARTITION BY {', '.join(self.key)}" + (f" ORDER BY {order}" if order else "")
        return (
            f"INSERT INTO {self.name} ({cols}) SELECT {cols} FROM {source} s"
            f" WHERE NOT EXISTS (SELECT 1 FROM {self.name} x WHERE {self._bounded('x.')}{match})"
            f" QUALIFY row_number() OVER ({over}) = 1"
        )

    def _bounded(self, alias: str = "") -> str:
        return "".join(f"{alias}{c} BETWEEN $min_{c} AND $max_{c} AND " for c in self.bounds)

    def _on_conflict(self) -> str:
        if self.rule == "ignore":
            return "NOTHING"
        values = [n for n in self.names if n not in self.key]
        if self.protect is None:
            return "UPDATE SET " + ", ".join(f"{n} = excluded.{n}" for n in values)
        p, t = self.protect, self.name
        kept = f"{t}.{p.column} = '{p.kept}' AND excluded.{p.column} = '{p.weaker}'"
        return "UPDATE SET " + ", ".join(
            f"{n} = CASE WHEN {kept} THEN {t}.{n} ELSE excluded.{n} END" for n in values
        )


def _column(name: str, hint: Any) -> Column:
    args = typing.get_args(hint)
    nullable = isinstance(hint, types.UnionType) and type(None) in args
    base = next(a for a in args if a is not type(None)) if nullable else hint
    if base not in _SQL_TYPES:
        raise TypeError(f"{name}: no column type for {hint!r}")
    return Column(name, base, nullable)


def _arrow_types() -> dict[type, Any]:
    import pyarrow as pa

    return {
        str: pa.string(),
        int: pa.int64(),
        bool: pa.bool_(),
        date: pa.date32(),
        datetime: pa.timestamp("us"),
    }


RELEASES = TableSpec("releases", ReleaseRecord, ("tool_id", "source", "project", "version"))
DOWNLOADS = TableSpec(
    "downloads_daily", DownloadRecord, ("tool_id", "package", "day", "source"), rule="replace"
)
STAR_HISTORY = TableSpec(
    "star_history",
    StarWeekRecord,
    ("tool_id", "week_start"),
    protect=Protect("source", kept="github", weaker="snapshot"),
)
REPO_SNAPSHOTS = TableSpec(
    "repo_snapshots", RepoSnapshotRecord, ("tool_id", "repo", "observed_at"), rule="ignore"
)
REPO_IDENTITIES = TableSpec("repo_identities", RepoIdentityRecord, ("tool_id",), stamp="updated_at")
HTTP_CACHE = TableSpec("http_cache", HttpCacheRecord, ("url",))
DEMAND = TableSpec("demand_monthly", DemandRecord, ("tool_id", "source", "month"))

TABLES = (RELEASES, DOWNLOADS, STAR_HISTORY, REPO_SNAPSHOTS, REPO_IDENTITIES, HTTP_CACHE, DEMAND)
