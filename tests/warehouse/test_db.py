from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from tracker.errors import LockHeldError, WarehouseError
from tracker.warehouse.db import WriterLock, migrations, open_db, schema_version

CONTRACT = {
    "tools": {"tool_id", "name", "skill", "github_repo", "pypi_packages", "trackable", "notes"},
    "runs": {
        "run_id",
        "started_at",
        "finished_at",
        "source",
        "status",
        "tools_ok",
        "tools_failed",
        "requests",
        "error",
    },
    "run_errors": {"run_id", "source", "tool_id", "error"},
    "repo_snapshots": {
        "tool_id",
        "repo",
        "observed_at",
        "stars",
        "forks",
        "open_issues",
        "watchers",
        "archived",
        "pushed_at",
    },
    "star_history": {"tool_id", "repo", "week_start", "stars_added", "source"},
    "releases": {
        "tool_id",
        "source",
        "project",
        "version",
        "released_at",
        "is_prerelease",
        "is_yanked",
    },
    "downloads_daily": {"tool_id", "package", "day", "downloads", "source"},
    "monthly_metrics": {
        "tool_id",
        "month",
        "stars_added",
        "downloads",
        "releases",
        "hn_posts",
        "hn_total",
        "so_questions",
        "so_total",
    },
    "demand_monthly": {"tool_id", "source", "month", "mentions", "total"},
    "tool_trends": set(),
    "skill_trends": set(),
    "schema_migrations": {"version"},
}


def test_new_file_gets_every_contract_table(db_path: Path) -> None:
    con = open_db(db_path)
    for table, columns in CONTRACT.items():
        got = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
            ).fetchall()
        }
        assert got, f"missing {table}"
        assert columns <= got, (table, columns - got)
    assert schema_version(con) == migrations()[-1][0]
    con.close()


def test_migrations_are_applied_once(db_path: Path) -> None:
    open_db(db_path).close()
    con = open_db(db_path)
    rows = con.execute("SELECT version, count(*) FROM schema_migrations GROUP BY 1").fetchall()
    assert all(n == 1 for _, n in rows) and len(rows) == len(migrations())
    con.close()


def test_non_duckdb_file_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.duckdb"
    path.write_bytes(b"SQLite format 3\x00" + b"x" * 100)
    before = path.read_bytes()
    for read_only in (False, True):
        with pytest.raises(
            WarehouseError, match="is not a DuckDB database file; refusing to touch it"
        ):
            open_db(path, read_only=read_only)
    assert path.read_bytes() == before


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    path.touch()
    with pytest.raises(WarehouseError, match="not a DuckDB"):
        open_db(path)
    assert path.stat().st_size == 0


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="is a directory"):
        open_db(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory(tmp_path: Path) -> None:  # pragma: no cover - CI runs as root
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    with pytest.raises(WarehouseError, match="not writable"):
        open_db(ro / "x.duckdb")


def test_newer_schema_is_refused(db_path: Path) -> None:
    open_db(db_path).close()
    con = duckdb.connect(str(db_path))
    con.execute("INSERT INTO schema_migrations VALUES (999, 'future', now())")
    con.close()
    with pytest.raises(WarehouseError, match="newer than this tracker knows"):
        open_db(db_path)


def test_read_only_open_creates_and_migrates(db_path: Path) -> None:
    con = open_db(db_path, read_only=True)
    assert schema_version(con) == migrations()[-1][0]
    with pytest.raises(duckdb.Error):
        con.execute("CREATE TABLE x (a INT)")
    con.close()


def test_writer_lock_is_exclusive(db_path: Path) -> None:
    sleeps: list[float] = []
    with WriterLock(db_path):
        with pytest.raises(LockHeldError) as err:
            WriterLock(db_path, sleep=sleeps.append).acquire()
        assert f"{db_path} is being written by another tracker process (pid={os.getpid()}" in str(
            err.value
        )
    with WriterLock(db_path):  # released: can be taken again
        pass


def test_open_while_other_process_holds_db(db_path: Path) -> None:
    import subprocess
    import sys

    open_db(db_path).close()
    code = (
        f"import duckdb, sys; c = duckdb.connect({str(db_path)!r}); "
        "print('ready', flush=True); sys.stdin.read()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        with pytest.raises(WarehouseError, match="is open in another process"):
            open_db(db_path)
    finally:
        proc.communicate("", timeout=30)


def test_changed_views_are_recreated_on_read_only_open(db_path: Path) -> None:
    open_db(db_path).close()
    con = duckdb.connect(str(db_path))
    con.execute("CREATE OR REPLACE VIEW monthly_metrics AS SELECT 1 AS old_column")
    con.execute("UPDATE schema_info SET value = 'old' WHERE key = 'views_sha256'")
    con.close()
    con = open_db(db_path, read_only=True)
    cols = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'monthly_metrics'"
        ).fetchall()
    }
    assert {"tool_id", "month", "stars_added", "downloads", "releases"} <= cols
    con.close()
