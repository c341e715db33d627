"""The DuckLake schema: the migrations translated to DuckLake's dialect (no keys, indexes or
sequences), applied one transaction each, and the views (see lake.py for the whole)."""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tracker.errors import WarehouseError
from tracker.warehouse.lake_attach import LAKE_ALIAS, LakeTarget, connect_lake
from tracker.warehouse.lake_retry import run_transaction

if TYPE_CHECKING:
    import duckdb

__all__ = ["lake_is_current", "lake_schema_version", "migrate_lake", "open_lake", "translate_ddl"]

log = logging.getLogger(__name__)

# ---- schema --------------------------------------------------------------------------------

_LAKE_TABLES = """
CREATE TABLE IF NOT EXISTS lake_sequences (name VARCHAR NOT NULL, value BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS lake_writes (table_name VARCHAR NOT NULL, writes BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS lake_run_owners (
    run_id BIGINT NOT NULL, host VARCHAR NOT NULL, pid BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER NOT NULL, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL
);
"""

_TABLE_PK = re.compile(r",\s*PRIMARY\s+KEY\s*\([^)]*\)", re.IGNORECASE)
_TABLE_UNIQUE = re.compile(r",\s*UNIQUE\s*\([^)]*\)", re.IGNORECASE)
_INLINE_KEY = re.compile(r"\s+(PRIMARY\s+KEY|UNIQUE)\b", re.IGNORECASE)
_NEXTVAL = re.compile(r"\s+DEFAULT\s+nextval\(\s*'[^']*'\s*\)", re.IGNORECASE)
_SEQUENCE = re.compile(r"CREATE\s+SEQUENCE\s+(\w+)(?:\s+START\s+(?:WITH\s+)?(\d+))?\s*;", re.I)
_INDEX = re.compile(r"CREATE\s+(?:UNIQUE\s+)?INDEX\b[^;]*;", re.IGNORECASE)
_COMMENT = re.compile(r"--[^\n]*")


def translate_ddl(sql: str) -> str:
    """Return a migration's SQL in the DuckLake dialect (no keys, indexes or sequences)."""
    sql = _COMMENT.sub("", sql)
    sql = _SEQUENCE.sub(
        lambda m: (
            f"INSERT INTO lake_sequences VALUES ('{m.group(1)}', {int(m.group(2) or 1) - 1});"
        ),
        sql,
    )
    sql = _INDEX.sub("", sql)
    sql = _TABLE_PK.sub("", sql)
    sql = _TABLE_UNIQUE.sub("", sql)
    sql = _NEXTVAL.sub("", sql)
    return _INLINE_KEY.sub("", sql)


def _views_hash(views: str) -> str:
    return hashlib.sha256(views.encode()).hexdigest()


def lake_is_current(con: duckdb.DuckDBPyConnection, newest: int, views: str) -> bool:
    """Return True when the lake has every migration and this tracker's views."""
    tables = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = ?",
            [LAKE_ALIAS],
        ).fetchall()
    }
    if not {"schema_migrations", "schema_info", "lake_writes"} <= tables:
        return False
    got = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    if not got or int(got[0]) < newest:
        return False
    rows = con.execute("SELECT value FROM schema_info WHERE key = 'views_sha256'").fetchall()
    return bool(rows) and rows[0][0] == _views_hash(views)


def lake_schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """Return the highest applied migration version of the lake (0 for a new lake)."""
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables"
        " WHERE table_catalog = ? AND table_name = 'schema_migrations'",
        [LAKE_ALIAS],
    ).fetchone()
    if not found or not found[0]:
        return 0
    got = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(got[0]) if got else 0


def migrate_lake(
    con: duckdb.DuckDBPyConnection,
    target: LakeTarget,
    known: list[tuple[int, str, str]],
    views: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Bring the lake to the newest schema (each step one transaction, retried on conflict)."""
    newest = known[-1][0] if known else 0
    run_transaction(con, lambda: con.execute(_LAKE_TABLES), what="lake bootstrap", sleep=sleep)
    current = lake_schema_version(con)
    if current > newest:
        raise WarehouseError(
            f"{target.display} has schema version {current}, newer than this tracker knows "
            f"({newest}); upgrade tracker"
        )
    for version, name, sql in known:
        if version <= current:
            continue
        log.info("applying migration %03d_%s to %s", version, name, target.display)
        failure = f"migration {version:03d}_{name} failed on {target.display}"
        apply = functools.partial(_apply, con, version, name, sql)
        _schema_step(con, target, apply, f"migration {version:03d}", failure, sleep)
    if not lake_is_current(con, newest, views):
        make_views = functools.partial(_make_views, con, views)
        _schema_step(
            con, target, make_views, "views", f"cannot create the views in {target.display}", sleep
        )


def _schema_step(
    con: duckdb.DuckDBPyConnection,
    target: LakeTarget,
    body: Callable[[], object],
    what: str,
    failure: str,
    sleep: Callable[[float], None],
) -> None:
    """Run ``body`` as a retried transaction; any error but a WarehouseError is one naming
    ``failure`` and the error's first line (passwords masked)."""
    try:
        run_transaction(con, body, what=what, sleep=sleep)
    except WarehouseError:
        raise
    except Exception as exc:
        raise WarehouseError(f"{failure}: {target.mask(str(exc).splitlines()[0])}") from exc


def _apply(con: duckdb.DuckDBPyConnection, version: int, name: str, sql: str) -> bool:
    """Apply one migration, unless another process applied it meanwhile (then return False)."""
    if lake_schema_version(con) >= version:
        return False
    con.execute(translate_ddl(sql))
    con.execute(
        "INSERT INTO schema_migrations VALUES (?, ?, ?)",
        [version, name, datetime.now(UTC).replace(tzinfo=None)],
    )
    return True


def _make_views(con: duckdb.DuckDBPyConnection, views: str) -> None:
    """Create the views, the row `lake_writes` bumps, and record the views' hash."""
    con.execute(views)
    if not con.execute("SELECT 1 FROM lake_writes WHERE table_name = '*'").fetchall():
        con.execute("INSERT INTO lake_writes VALUES ('*', 0)")
    con.execute("DELETE FROM schema_info WHERE key = 'views_sha256'")
    con.execute("INSERT INTO schema_info VALUES ('views_sha256', ?)", [_views_hash(views)])


def open_lake(
    target: LakeTarget,
    known: list[tuple[int, str, str]],
    views: str,
    *,
    read_only: bool = False,
) -> duckdb.DuckDBPyConnection:
    """Return a connection to the migrated lake (a read-only one migrates first when needed)."""
    import duckdb

    newest = known[-1][0] if known else 0
    try:
        if read_only:
            try:
                con = connect_lake(target, read_only=True)
            except WarehouseError:
                con = None  # a brand-new lake cannot be attached read-only: create it first
            if con is not None:
                try:
                    if lake_is_current(con, newest, views):
                        return con
                except duckdb.Error:
                    pass  # no tables yet
                con.close()
            open_lake(target, known, views, read_only=False).close()
            return connect_lake(target, read_only=True)
        con = connect_lake(target, read_only=False)
        try:
            migrate_lake(con, target, known, views)
        except BaseException:
            con.close()
            raise
        return con
    except duckdb.Error as exc:
        first = target.mask(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise WarehouseError(f"cannot prepare {target.display}: {first}") from None
