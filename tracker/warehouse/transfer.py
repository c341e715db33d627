"""`tracker migrate`: copy a whole warehouse to a DuckLake, or to/from a Parquet export.

Endpoints: a DuckDB file, a DuckLake target (``ducklake:...``) or a Parquet export directory
(``parquet:DIR``: one ``<table>.parquet`` per table and ``manifest.json``). The export exists
because the lake extra runs DuckDB 1.5 while the base install runs DuckDB 2: a file written by
DuckDB 2 cannot be opened by DuckDB 1.5, but Parquet written by either is read by both. So:

    tracker migrate --db tracker.duckdb --to parquet:/tmp/export          # base install
    tracker migrate --db parquet:/tmp/export --to ducklake:postgres:...   # lake install

A file the running DuckDB can open goes straight to the lake in one step. The destination must
be empty; everything is copied in one transaction and the row counts are compared afterwards.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.errors import ConfigError, WarehouseError
from tracker.warehouse.db import migrations, open_target
from tracker.warehouse.lake import LakeTarget, parse_target

if TYPE_CHECKING:
    import duckdb

__all__ = ["ExportDir", "MigrateResult", "migrate", "parse_endpoint"]

log = logging.getLogger(__name__)

EXPORT_PREFIX = "parquet:"
MANIFEST = "manifest.json"
# bookkeeping that the destination's own migrations create: never copied
_SKIP = {"schema_migrations", "schema_info"}
_BATCH_ROWS = 256 * 1024


@dataclass(frozen=True, slots=True)
class ExportDir:
    """A Parquet export of a warehouse (``parquet:DIR``)."""

    path: Path

    def __str__(self) -> str:
        return EXPORT_PREFIX + str(self.path)


Endpoint = Path | LakeTarget | ExportDir


@dataclass(frozen=True, slots=True)
class MigrateResult:
    """Rows per table copied from ``source`` to ``dest`` (identical on both sides)."""

    source: str
    dest: str
    rows: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"source": self.source, "dest": self.dest, "rows": self.rows}


def parse_endpoint(value: str, data_path: str | None) -> Endpoint:
    """Return the endpoint ``value`` names (``parquet:DIR``, ``ducklake:...`` or a file)."""
    if value.startswith(EXPORT_PREFIX):
        rest = value[len(EXPORT_PREFIX) :].strip()
        if not rest:
            raise ConfigError("parquet: needs a directory, e.g. parquet:/tmp/tracker-export")
        return ExportDir(Path(rest).expanduser().absolute())
    lake = parse_target(value, data_path)
    return lake if lake is not None else Path(value)


def _label(endpoint: Endpoint) -> str:
    return endpoint.display if isinstance(endpoint, LakeTarget) else str(endpoint)


def _data_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database()"
        " AND table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name"
    ).fetchall()
    return [r[0] for r in rows if r[0] not in _SKIP and not r[0].startswith("lake_")]


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    return int(row[0]) if row else 0


def _newest() -> int:
    known = migrations()
    return known[-1][0] if known else 0


def _open_source(source: Endpoint) -> duckdb.DuckDBPyConnection:
    if isinstance(source, ExportDir):
        raise AssertionError("an export is read with read_parquet")
    if isinstance(source, Path) and not source.exists():
        raise WarehouseError(f"{source} does not exist; nothing to migrate")
    try:
        return open_target(source, read_only=True)
    except WarehouseError as exc:
        if "newer version of DuckDB" in str(exc) or "version number" in str(exc):
            import duckdb

            raise WarehouseError(
                f"{source} was written by a newer DuckDB than this one ({duckdb.__version__}): "
                f"export it with the install that wrote it (`tracker migrate --db {source} "
                f"--to parquet:DIR`), then migrate from parquet:DIR"
            ) from exc
        raise


def _read_manifest(export: ExportDir) -> dict[str, Any]:
    path = export.path / MANIFEST
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WarehouseError(f"{export} is not a tracker export ({path}: {exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("tables"), dict):
        raise WarehouseError(f"{export} is not a tracker export (bad {MANIFEST})")
    return doc


def migrate(source: Endpoint, dest: Endpoint) -> MigrateResult:
    """Copy every table of ``source`` into the empty ``dest``; return the rows per table."""
    if isinstance(dest, Path):
        raise ConfigError(
            "migrate --to takes a ducklake: target or parquet:DIR (a DuckDB file is made by "
            "`tracker collect`)"
        )
    if _label(source) == _label(dest):
        raise ConfigError("migrate: source and destination are the same")
    if isinstance(dest, ExportDir):
        return _export(source, dest)
    return _import(source, dest)


def _export(source: Endpoint, dest: ExportDir) -> MigrateResult:
    if isinstance(source, ExportDir):
        raise ConfigError("migrate: from one export to another: copy the directory instead")
    if dest.path.exists() and any(dest.path.iterdir()):
        raise WarehouseError(f"{dest} is not empty; export into a new directory")
    dest.path.mkdir(parents=True, exist_ok=True)
    con = _open_source(source)
    try:
        rows: dict[str, int] = {}
        for table in _data_tables(con):
            out = dest.path / f"{table}.parquet"
            quoted = str(out).replace("'", "''")
            con.execute(f"COPY \"{table}\" TO '{quoted}' (FORMAT parquet)")
            rows[table] = _count(con, table)
        manifest = {"schema_version": _newest(), "tables": rows}
        (dest.path / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    finally:
        con.close()
    return MigrateResult(_label(source), str(dest), rows)


def _import(source: Endpoint, dest: LakeTarget) -> MigrateResult:
    from tracker.warehouse.lake import run_transaction

    src_con = None if isinstance(source, ExportDir) else _open_source(source)
    try:
        expected = _expected_rows(source, src_con)
        con = open_target(dest)
        try:
            _check_empty(con, dest, source, expected)
            run_transaction(con, lambda: _copy(con, source, src_con, expected), what="migrate")
            got = {t: _count(con, t) for t in sorted(expected)}
        finally:
            con.close()
    finally:
        if src_con is not None:
            src_con.close()
    if got != dict(sorted(expected.items())):
        diff = {t: (expected[t], got[t]) for t in got if got[t] != expected[t]}
        raise WarehouseError(f"migrate: row counts differ after the copy (source, lake): {diff}")
    log.info("migrated %s to %s", _label(source), dest.display)
    return MigrateResult(_label(source), dest.display, got)


def _expected_rows(source: Endpoint, src_con: duckdb.DuckDBPyConnection | None) -> dict[str, int]:
    """Return the rows per table the lake must hold after the copy (an export: its manifest)."""
    if src_con is not None:
        return {t: _count(src_con, t) for t in _data_tables(src_con)}
    assert isinstance(source, ExportDir)
    manifest = _read_manifest(source)
    if manifest.get("schema_version") != _newest():
        raise WarehouseError(
            f"{source} has schema version {manifest.get('schema_version')}, this tracker "
            f"{_newest()}: export it again with this tracker version"
        )
    return {str(k): int(v) for k, v in manifest["tables"].items()}


def _check_empty(
    con: duckdb.DuckDBPyConnection, dest: LakeTarget, source: Endpoint, expected: dict[str, int]
) -> None:
    """Raise WarehouseError unless the lake has every table, all of them empty."""
    missing = sorted(set(expected) - set(_data_tables(con)))
    if missing:
        raise WarehouseError(
            f"{dest.display} has no table {', '.join(missing)}: is {_label(source)} from "
            "a newer tracker?"
        )
    busy = [t for t in expected if _count(con, t)]
    if busy:
        raise WarehouseError(
            f"{dest.display} already holds data ({', '.join(sorted(busy))}); "
            "migrate into an empty lake"
        )


def _copy(
    con: duckdb.DuckDBPyConnection,
    source: Endpoint,
    src_con: duckdb.DuckDBPyConnection | None,
    expected: dict[str, int],
) -> None:
    """Copy every table of ``source`` into the lake (inside the migrate transaction)."""
    for table in sorted(expected):
        if src_con is None:
            assert isinstance(source, ExportDir)
            path = str(source.path / f"{table}.parquet").replace("'", "''")
            con.execute(f"INSERT INTO \"{table}\" BY NAME SELECT * FROM read_parquet('{path}')")
            continue
        reader = src_con.execute(f'SELECT * FROM "{table}"').to_arrow_reader(_BATCH_ROWS)
        con.register("_migrate_src", reader)
        try:
            con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM _migrate_src')
        finally:
            con.unregister("_migrate_src")
    if "runs" in expected:  # the next run_id continues after the copied ones
        con.execute(
            "UPDATE lake_sequences SET value = greatest(value,"
            " (SELECT coalesce(max(run_id), 0) FROM runs)) WHERE name = 'run_id_seq'"
        )
