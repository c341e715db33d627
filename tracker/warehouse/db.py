"""Open the DuckDB file safely: header check, writer lock, forward-only migrations, views."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from tracker.errors import LockHeldError, WarehouseError
from tracker.warehouse.lake import LakeTarget

if TYPE_CHECKING:
    import duckdb

# Where the warehouse lives: a DuckDB file, or a DuckLake (see lake.py).
Target = Path | LakeTarget

__all__ = [
    "Target",
    "WriterLock",
    "is_database_error",
    "lock_path_for",
    "migrations",
    "open_db",
    "open_target",
    "schema_version",
    "target_exists",
    "write_session",
]

log = logging.getLogger(__name__)

_DUCKDB_MAGIC = b"DUCK"
_MIGRATION_RE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


def is_database_error(exc: BaseException) -> bool:
    """Return True when ``exc`` comes from DuckDB (a damaged or unusable file, mostly)."""
    import duckdb

    return isinstance(exc, duckdb.Error)


def lock_path_for(db_path: Path) -> Path:
    """Return the writer-lock file that sits beside ``db_path``."""
    return db_path.with_name(db_path.name + ".lock")


class WriterLock:
    """An exclusive advisory lock (flock) on ``<db>.lock``: one writer per DB file."""

    def __init__(
        self,
        db_path: Path,
        *,
        wait_seconds: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.db_path = db_path
        self.path = lock_path_for(db_path)
        self.wait_seconds = wait_seconds
        self._sleep = sleep
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise LockHeldError (after waiting up to ``wait_seconds``)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise WarehouseError(f"cannot create lock file {self.path}: {exc.strerror}") from exc
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise LockHeldError(
                        f"{self.db_path} is being written by another tracker process{holder}; "
                        "wait for it to finish (or pass --wait SECONDS) and try again"
                    ) from None
                self._sleep(0.5)
        os.ftruncate(fd, 0)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        os.write(fd, f"pid={os.getpid()} since={stamp}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Release the lock (the file stays; its content is informational)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return f" ({text})" if text else ""


def migrations() -> list[tuple[int, str, str]]:
    """Return the bundled migrations as (version, name, sql), in order."""
    found = []
    for entry in resources.files("tracker.warehouse").joinpath("migrations").iterdir():
        match = _MIGRATION_RE.match(entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found)


def _views_sql() -> str:
    return resources.files("tracker.warehouse").joinpath("views.sql").read_text(encoding="utf-8")


def _is_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Return True when the file has every migration and this tracker's views."""
    if schema_version(con) < _newest_migration():
        return False
    rows = con.execute("SELECT value FROM schema_info WHERE key = 'views_sha256'").fetchall()
    return bool(rows) and rows[0][0] == hashlib.sha256(_views_sql().encode()).hexdigest()


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise WarehouseError(f"{path} is a directory, not a DuckDB database file")
    if not path.exists():
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.exists():
            try:
                parent.mkdir(parents=True)
            except OSError as exc:
                raise WarehouseError(f"cannot create directory {parent}: {exc.strerror}") from exc
        if not os.access(parent, os.W_OK):
            raise WarehouseError(f"cannot create {path}: directory {parent} is not writable")
        return
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise WarehouseError(f"cannot read {path}: {exc.strerror}") from exc
    if len(head) < 12 or head[8:12] != _DUCKDB_MAGIC:
        raise WarehouseError(f"{path} is not a DuckDB database file; refusing to touch it")


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """Return the highest applied migration version (0 for a new file)."""
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    ).fetchone()
    if not row or not row[0]:
        return 0
    got = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(got[0]) if got else 0


def _migrate(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    current = schema_version(con)
    known = migrations()
    newest = known[-1][0] if known else 0
    if current > newest:
        raise WarehouseError(
            f"{path} has schema version {current}, newer than this tracker knows ({newest}); "
            "upgrade tracker"
        )
    for version, name, sql in known:
        if version <= current:
            continue
        log.info("applying migration %03d_%s to %s", version, name, path)
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                [version, name, datetime.now(UTC).replace(tzinfo=None)],
            )
            con.execute("COMMIT")
        except Exception as exc:
            con.execute("ROLLBACK")
            raise WarehouseError(f"migration {version:03d}_{name} failed on {path}: {exc}") from exc
    if _is_current(con):
        return  # nothing to change: an up-to-date file is not written to on open
    views = _views_sql()
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(views)
        con.execute(
            "INSERT OR REPLACE INTO schema_info VALUES ('views_sha256', ?)",
            [hashlib.sha256(views.encode()).hexdigest()],
        )
        con.execute("COMMIT")
    except Exception as exc:
        con.execute("ROLLBACK")
        raise WarehouseError(f"cannot create the views in {path}: {exc}") from exc


_HOLDER_RE = re.compile(r"lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def _held_open_message(path: Path, duckdb_message: str, *, read_only: bool) -> str:
    """One line for a DB file another process holds open, naming that process when known."""
    found = _HOLDER_RE.search(duckdb_message)
    holder = f" (pid {found['pid']}: {Path(found['program']).name})" if found else ""
    if read_only:  # a writer holds it: a collect or a scheduled job
        return (
            f"{path} is open for writing in another process{holder}, a running collect most "
            "likely; wait for it to finish and try again"
        )
    return (
        f"{path} is open in another process{holder}; DuckDB lets tracker write only while no "
        "other process has the file open, even read-only: close that program (a SQL client, a "
        "notebook, a running tracker) and try again"
    )


def _connect(path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        msg = str(exc)
        if "lock" in msg.lower():
            raise WarehouseError(_held_open_message(path, msg, read_only=read_only)) from exc
        raise WarehouseError(f"cannot open {path}: {msg.splitlines()[0]}") from exc
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise WarehouseError(f"cannot open {path} as a DuckDB database: {first}") from exc
    return con


def _newest_migration() -> int:
    known = migrations()
    return known[-1][0] if known else 0


def open_db(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Return a connection to the DuckDB file at ``path``, migrated to the current schema.

    A write-mode caller must hold the WriterLock. A read-only open of a missing or outdated file
    first creates or migrates it under the writer lock, then reopens it read-only.
    """
    import duckdb

    _check_file(path)
    if read_only:
        needs_migration = not path.exists()
        if not needs_migration:
            con = _connect(path, read_only=True)
            try:
                needs_migration = not _is_current(con)
            finally:
                if needs_migration:
                    con.close()
            if not needs_migration:
                con.execute("SET TimeZone = 'UTC'")
                return con
        with WriterLock(path):
            open_db(path, read_only=False).close()
        return open_db(path, read_only=True)
    con = _connect(path, read_only=False)
    try:
        con.execute("SET TimeZone = 'UTC'")
        _migrate(con, path)
    except WarehouseError:
        con.close()
        raise
    except duckdb.Error as exc:
        con.close()
        raise WarehouseError(f"cannot prepare {path}: {str(exc).splitlines()[0]}") from exc
    return con


def open_target(target: Target, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Return a migrated connection to a DuckDB file (see open_db) or a DuckLake."""
    if isinstance(target, LakeTarget):
        from tracker.warehouse.lake import open_lake

        return open_lake(target, migrations(), _views_sql(), read_only=read_only)
    return open_db(target, read_only=read_only)


@contextlib.contextmanager
def write_session(
    target: Target, *, wait_seconds: float = 0.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a write connection: a DuckDB file under its WriterLock, a DuckLake without one
    (the lake's own transactions keep concurrent writers apart)."""
    if isinstance(target, LakeTarget):
        con = open_target(target)
        try:
            yield con
        finally:
            con.close()
        return
    with WriterLock(target, wait_seconds=wait_seconds):
        con = open_db(target)
        try:
            yield con
        finally:
            con.close()


def target_exists(target: Target) -> bool:
    """Return True when the warehouse exists already (a PostgreSQL catalog: assumed so)."""
    if isinstance(target, LakeTarget):
        return target.is_postgres or Path(target.catalog).exists()
    return target.exists()
