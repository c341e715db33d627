"""Warehouse backends under test: a DuckDB file, a DuckLake on a DuckDB-file catalog, and a
DuckLake on a PostgreSQL catalog (a throwaway server, one fresh database per test).

Lake backends need the ``tracker[lake]`` extra (DuckDB 1.5 with the extension wheels) and, for
PostgreSQL, a server: ``TRACKER_TEST_PG`` (a conninfo without dbname, set by scripts/test.sh)
or Debian's server binaries, from which the session starts its own. When either is missing the
lake tests are skipped with the reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
# read at import: the autouse _clean_env fixture drops every TRACKER_* variable
TEST_PG = os.environ.get("TRACKER_TEST_PG")
IN_CI = os.environ.get("CI", "").lower() == "true"

LAKE_BACKENDS = ("lake-file", "lake-pg")


def lake_extra_missing() -> str | None:
    """Return why the lake extensions cannot be used here, or None."""
    from tracker.errors import WarehouseError
    from tracker.warehouse.lake import extension_files

    try:
        extension_files()
    except WarehouseError as exc:
        return str(exc)
    return None


def unavailable(reason: str) -> None:
    """Skip with ``reason``, or fail under CI=true (lake tests must run in CI)."""
    if IN_CI:
        pytest.fail(f"lake test cannot run in CI: {reason}")
    pytest.skip(reason)


class PgServer:
    """A PostgreSQL server reachable by ``conninfo`` (no dbname); makes one database per test."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo

    def psql(self, sql: str, dbname: str = "postgres") -> None:
        subprocess.run(
            [
                "psql",
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
                f"{self.conninfo} dbname={dbname}",
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def new_database(self) -> str:
        name = "t_" + uuid.uuid4().hex[:12]
        self.psql(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def start_pg_server() -> tuple[PgServer | None, str | None, str]:
    """Return (server, dir to stop, reason when none)."""
    if TEST_PG:
        return PgServer(TEST_PG), None, ""
    if shutil.which("psql") is None or not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return None, None, "no PostgreSQL server here (set TRACKER_TEST_PG or install postgresql)"
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "pg-throwaway.sh"), "start"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        return None, None, f"could not start a throwaway PostgreSQL: {done.stderr.strip()[-300:]}"
    values = {}
    for line in done.stdout.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        values[key] = value.strip("'")
    return PgServer(values["TRACKER_TEST_PG"]), values["TRACKER_TEST_PG_DIR"], ""


def stop_pg_server(directory: str) -> None:
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "pg-throwaway.sh"), "stop", directory],
        capture_output=True,
        timeout=120,
        check=False,
    )


@dataclass
class Backend:
    """One warehouse for one test: how to name it to tracker, and how to read it."""

    name: str
    spec: str  # the TRACKER_DB / --db value
    data_path: str | None = None  # TRACKER_DATA_PATH
    _cleanup: list[Any] = field(default_factory=list)

    @property
    def is_lake(self) -> bool:
        return self.name != "file"

    def env(self) -> dict[str, str]:
        """The environment variables that point tracker at this warehouse."""
        out = {"TRACKER_DB": self.spec}
        if self.data_path:
            out["TRACKER_DATA_PATH"] = self.data_path
        return out

    def target(self) -> Any:
        from tracker.config import load_settings

        return load_settings({**self.env()}).db_target

    def connect(self, *, read_only: bool = False) -> Any:
        """A migrated connection (write mode by default: tests set data up with it)."""
        from tracker.warehouse.db import open_target

        return open_target(self.target(), read_only=read_only)

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` read through a fresh read-only connection."""
        con = self.connect(read_only=True)
        try:
            return con.execute(sql, list(params)).fetchall()
        finally:
            con.close()


def make_backend(name: str, tmp_path: Path, pg: PgServer | None) -> Backend:
    if name == "file":
        return Backend(name, str(tmp_path / "t.duckdb"))
    reason = lake_extra_missing()
    if reason:
        unavailable(reason)
    if name == "lake-file":
        return Backend(name, f"ducklake:{tmp_path / 'cat.ducklake'}")
    assert pg is not None
    dbname = pg.new_database()
    backend = Backend(
        name, f"ducklake:postgres:{pg.conninfo} dbname={dbname}", str(tmp_path / "lake-data")
    )
    backend._cleanup.append(lambda: pg.drop_database(dbname))
    return backend


def backend_params(*names: str) -> list[Any]:
    """pytest params for ``names`` (default all), lake ones marked ``lake``."""
    chosen = names or ("file", *LAKE_BACKENDS)
    return [pytest.param(n, marks=[pytest.mark.lake] if n != "file" else [], id=n) for n in chosen]


def finish(backend: Backend) -> Iterator[Backend]:
    try:
        yield backend
    finally:
        for fn in backend._cleanup:
            fn()
