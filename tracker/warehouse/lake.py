"""DuckLake targets: `TRACKER_DB=ducklake:<catalog>` with the data as Parquet files.

``<catalog>`` is ``postgres:<libpq conninfo>`` (several machines and processes) or the path of a
DuckDB file (one machine). The Parquet files go to ``TRACKER_DATA_PATH`` (required with a
PostgreSQL catalog; beside a file catalog, ``<catalog>.files/``, by default).

What differs from a DuckDB file, and how this module covers it:

- the extensions come from the ``tracker[lake]`` extra (wheels built for one DuckDB release) and
  are loaded from the installed packages; DuckDB's auto-install and auto-load stay off, so
  nothing is ever downloaded at run time;
- DuckLake has no primary keys, indexes, sequences, ON CONFLICT or RETURNING: the migrations are
  translated (constraints dropped, sequences become rows of ``lake_sequences``) and the store's
  upserts become DELETE + INSERT on the key inside the same transaction;
- there is no writer lock: DuckLake commits with snapshot isolation and detects conflicting
  commits per table. Every write of the store runs in ``run_transaction``, which retries a
  conflicting transaction (bounded, exponential backoff). Each upsert also bumps its table's row
  in ``lake_writes``, so two transactions that upsert the same table always conflict and one
  re-runs on the other's result: no key is ever stored twice, even by two collects of one source.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import random
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from tracker.errors import ConfigError, WarehouseError

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "LAKE_ALIAS",
    "LakeTarget",
    "is_conflict",
    "is_lake",
    "mask_secrets",
    "open_lake",
    "parse_target",
    "run_transaction",
    "translate_ddl",
]

log = logging.getLogger(__name__)

PREFIX = "ducklake:"
LAKE_ALIAS = "tracker_lake"
PIP_HINT = "pip install 'tracker[lake]'"
# (python package, extension name): loaded in this order
_EXTENSIONS = (
    ("duckdb_extension_ducklake", "ducklake"),
    ("duckdb_extension_postgres_scanner", "postgres_scanner"),
)
_HTTPFS = ("duckdb_extension_httpfs", "httpfs")
_REMOTE_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)

T = TypeVar("T")


# ---- targets and secrets -------------------------------------------------------------------


_PASSWORD_KV = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s']+)", re.IGNORECASE)
_PASSWORD_URI = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s]+)(@)", re.IGNORECASE)


def mask_secrets(text: str, *secrets: str) -> str:
    """Return ``text`` with passwords of conninfo strings and URIs (and ``secrets``) masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _PASSWORD_KV.sub(r"\1***", text)
    return _PASSWORD_URI.sub(r"\1***\3", text)


def _password_of(conninfo: str) -> str | None:
    m = _PASSWORD_KV.search(conninfo)
    if m:
        value = m.group(2)
        return value[1:-1] if value.startswith("'") and len(value) > 1 else value
    m = _PASSWORD_URI.search(conninfo)
    return m.group(2) if m else None


@dataclass(frozen=True, slots=True)
class LakeTarget:
    """A DuckLake: its catalog (``postgres:<conninfo>`` or a DuckDB file path) and data path."""

    catalog: str
    data_path: str

    @property
    def is_postgres(self) -> bool:
        """True when the catalog lives in PostgreSQL."""
        return self.catalog.startswith("postgres:")

    @property
    def display(self) -> str:
        """The target as users wrote it, with any password masked (for logs and errors)."""
        return PREFIX + mask_secrets(self.catalog)

    @property
    def secret(self) -> str | None:
        """The password inside the conninfo, if any (masked wherever it shows up)."""
        return _password_of(self.catalog) if self.is_postgres else None

    def mask(self, text: str) -> str:
        """Return ``text`` with this target's password masked."""
        return mask_secrets(text, *([self.secret] if self.secret else []))

    def __str__(self) -> str:
        return self.display

    def __repr__(self) -> str:
        return f"LakeTarget({self.display!r}, data_path={self.data_path!r})"


def parse_target(value: str, data_path: str | None = None) -> LakeTarget | None:
    """Return the DuckLake target ``value`` names, or None for a plain DuckDB file path.

    Raises ConfigError for a malformed target or a PostgreSQL catalog without a data path.
    """
    if not value.startswith(PREFIX):
        return None
    catalog = value[len(PREFIX) :].strip()
    if not catalog:
        raise ConfigError(
            "TRACKER_DB=ducklake: names no catalog (use ducklake:postgres:<conninfo> "
            "or ducklake:/path/catalog.ducklake)"
        )
    if catalog.startswith("postgres:"):
        if not catalog[len("postgres:") :].strip():
            raise ConfigError(
                "TRACKER_DB=ducklake:postgres: needs a conninfo, e.g. "
                "ducklake:postgres:dbname=tracker host=db.example"
            )
        if not data_path:
            raise ConfigError(
                "TRACKER_DATA_PATH is required with a PostgreSQL DuckLake catalog "
                "(a directory or object-store URL for the Parquet files)"
            )
        return LakeTarget(catalog, _norm_data_path(data_path))
    scheme = re.match(r"^([a-z][a-z0-9_]*):(?!//)", catalog)
    if scheme and len(scheme.group(1)) > 1:  # "c:" could be a drive letter; no other schemes
        raise ConfigError(
            f"TRACKER_DB=ducklake:{scheme.group(1)}:...: unsupported catalog "
            "(use ducklake:postgres:<conninfo> or ducklake:/path/catalog.ducklake)"
        )
    path = Path(catalog).expanduser().absolute()
    default = str(path) + ".files"
    return LakeTarget(str(path), _norm_data_path(data_path or default))


def _norm_data_path(value: str) -> str:
    value = value.strip()
    if _REMOTE_RE.match(value):
        return value if value.endswith("/") else value + "/"
    return str(Path(value).expanduser().absolute()) + "/"


# ---- connecting ----------------------------------------------------------------------------


def _extension_file(package: str, name: str) -> Path:
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for base in locations:
        found = sorted(Path(base).glob(f"extensions/*/{name}.duckdb_extension"))
        if found:
            return found[-1]
    raise WarehouseError(
        f"a ducklake: TRACKER_DB needs the DuckLake extensions (package {package} is missing): "
        f"{PIP_HINT}"
    )


def extension_files(*, postgres: bool = True, remote: bool = False) -> list[Path]:
    """Return the extension files to LOAD, checked against the installed DuckDB version."""
    import duckdb

    wanted = list(_EXTENSIONS[: 2 if postgres else 1]) + ([_HTTPFS] if remote else [])
    files = [_extension_file(pkg, name) for pkg, name in wanted]
    have = "v" + duckdb.__version__
    for path in files:
        built_for = path.parent.name
        if built_for != have:
            raise WarehouseError(
                f"the DuckLake extensions here are built for DuckDB {built_for[1:]}, but DuckDB "
                f"{duckdb.__version__} is installed: {PIP_HINT} (it installs the matching DuckDB)"
            )
    return files


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def connect_lake(
    target: LakeTarget, *, read_only: bool, sleep: Callable[[float], None] = time.sleep
) -> duckdb.DuckDBPyConnection:
    """Return an in-memory DuckDB connection with ``target`` attached as the default database.

    Two processes opening a brand-new lake at once both try to create its catalog tables; the
    one that loses gets a duplicate-key error from PostgreSQL and attaches again (bounded)."""
    import duckdb

    remote = bool(_REMOTE_RE.match(target.data_path))
    files = extension_files(postgres=target.is_postgres, remote=remote)
    if not target.is_postgres:
        catalog = Path(target.catalog)
        if catalog.is_dir():
            raise WarehouseError(f"{target.display} is a directory, not a DuckLake catalog file")
        try:
            catalog.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(f"cannot create {catalog.parent}: {exc.strerror}") from exc
    if not remote:
        try:
            Path(target.data_path).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(
                f"cannot create the data path {target.data_path}: {exc.strerror}"
            ) from exc
    options = [f"DATA_PATH {_sql_str(target.data_path)}"]
    if read_only:
        options.append("READ_ONLY")
    attach = f"ATTACH {_sql_str(PREFIX + target.catalog)} AS {LAKE_ALIAS} ({', '.join(options)})"
    rng = random.Random()
    for attempt in range(1, _INIT_ATTEMPTS + 1):
        con = duckdb.connect(
            ":memory:",
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
        )
        try:
            for path in files:
                con.execute(f"LOAD {_sql_str(str(path))}")
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET enable_progress_bar = false")
            con.execute(attach)
            con.execute(f"USE {LAKE_ALIAS}")
        except duckdb.Error as exc:
            con.close()
            if attempt < _INIT_ATTEMPTS and _is_init_race(exc):
                # another process is creating this new lake's catalog tables right now: once
                # it has committed, attaching finds them
                log.info("the lake is being created by another process; retrying the attach")
                sleep(min(1.0, 0.05 * 2 ** (attempt - 1)) * (0.5 + rng.random() / 2))
                continue
            first = target.mask(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise WarehouseError(f"cannot open {target.display}: {first}") from None
        return con
    raise AssertionError("unreachable")  # pragma: no cover


_INIT_ATTEMPTS = 8


def _is_init_race(exc: BaseException) -> bool:
    """True for a DuckLake catalog initialisation that lost a race with another process'."""
    text = str(exc)
    return "Failed to initialize DuckLake" in text and (
        "duplicate key value" in text or "already exists" in text
    )


def is_lake(con: duckdb.DuckDBPyConnection) -> bool:
    """Return True when ``con``'s default database is a DuckLake."""
    rows = con.execute(
        "SELECT type FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    return bool(rows) and rows[0][0] == "ducklake"


# ---- transactions --------------------------------------------------------------------------


def is_conflict(exc: BaseException) -> bool:
    """Return True when ``exc`` is a DuckLake commit conflict (worth retrying)."""
    import duckdb

    if not isinstance(exc, duckdb.Error):
        return False
    text = str(exc)
    return "conflict" in text.lower() or (
        isinstance(exc, duckdb.TransactionException) and "Failed to commit" in text
    )


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    import duckdb

    with contextlib.suppress(duckdb.Error):  # a failed COMMIT has already ended it
        con.execute("ROLLBACK")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a conflicting lake transaction is retried."""

    attempts: int = 40
    first_wait: float = 0.02
    max_wait: float = 1.0
    factor: float = 1.7

    def wait(self, attempt: int, rng: random.Random) -> float:
        """Return the sleep before retry number ``attempt`` (1-based), with full jitter."""
        cap = min(self.max_wait, self.first_wait * self.factor ** (attempt - 1))
        return cap * (0.5 + rng.random() / 2)


DEFAULT_RETRY = RetryPolicy()


def run_transaction(
    con: duckdb.DuckDBPyConnection,
    body: Callable[[], T],
    *,
    what: str = "write",
    policy: RetryPolicy = DEFAULT_RETRY,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int], None] | None = None,
) -> T:
    """Run ``body`` in one transaction; re-run it from the start when the commit conflicts."""
    rng = random.Random()
    for attempt in range(1, policy.attempts + 1):
        con.execute("BEGIN TRANSACTION")
        try:
            result = body()
            con.execute("COMMIT")
            return result
        except BaseException as exc:
            _rollback(con)
            if not is_conflict(exc) or attempt == policy.attempts:
                if is_conflict(exc):
                    raise WarehouseError(
                        f"{what}: still conflicting with other writers after {attempt} attempts"
                    ) from exc
                raise
            log.info(
                "lake transaction conflict; retrying",
                extra={"what": what, "attempt": attempt},
            )
            if on_retry is not None:
                on_retry(attempt)
            sleep(policy.wait(attempt, rng))
    raise AssertionError("unreachable")  # pragma: no cover


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


def next_value(con: duckdb.DuckDBPyConnection, sequence: str) -> int:
    """Advance the lake sequence ``sequence`` and return its new value (inside a transaction)."""
    row = con.execute("SELECT value FROM lake_sequences WHERE name = ?", [sequence]).fetchone()
    if row is None:
        raise WarehouseError(f"the lake has no sequence {sequence!r}")
    value = int(row[0]) + 1
    con.execute("UPDATE lake_sequences SET value = ? WHERE name = ?", [value, sequence])
    return value


def bump_writes(con: duckdb.DuckDBPyConnection) -> None:
    """Mark this transaction as an upsert: any two such transactions conflict (table-level in
    DuckLake), so one of them re-runs on the other's result and never stores a key twice."""
    con.execute("UPDATE lake_writes SET writes = writes + 1 WHERE table_name = '*'")


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

    def bootstrap() -> None:
        con.execute(_LAKE_TABLES)

    run_transaction(con, bootstrap, what="lake bootstrap", sleep=sleep)
    current = lake_schema_version(con)
    if current > newest:
        raise WarehouseError(
            f"{target.display} has schema version {current}, newer than this tracker knows "
            f"({newest}); upgrade tracker"
        )
    for version, name, sql in known:

        def step(version: int = version, name: str = name, sql: str = sql) -> bool:
            if lake_schema_version(con) >= version:
                return False  # another process applied it meanwhile
            con.execute(translate_ddl(sql))
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                [version, name, datetime.now(UTC).replace(tzinfo=None)],
            )
            return True

        if version <= current:
            continue
        log.info("applying migration %03d_%s to %s", version, name, target.display)
        try:
            run_transaction(con, step, what=f"migration {version:03d}", sleep=sleep)
        except WarehouseError:
            raise
        except Exception as exc:
            raise WarehouseError(
                f"migration {version:03d}_{name} failed on {target.display}: "
                f"{target.mask(str(exc).splitlines()[0])}"
            ) from exc
    if lake_is_current(con, newest, views):
        return

    def make_views() -> None:
        con.execute(views)
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_catalog = ? AND table_type = 'BASE TABLE'",
                [LAKE_ALIAS],
            ).fetchall()
        ]
        del tables
        if not con.execute("SELECT 1 FROM lake_writes WHERE table_name = '*'").fetchall():
            con.execute("INSERT INTO lake_writes VALUES ('*', 0)")
        con.execute("DELETE FROM schema_info WHERE key = 'views_sha256'")
        con.execute("INSERT INTO schema_info VALUES ('views_sha256', ?)", [_views_hash(views)])

    try:
        run_transaction(con, make_views, what="views", sleep=sleep)
    except WarehouseError:
        raise
    except Exception as exc:
        raise WarehouseError(
            f"cannot create the views in {target.display}: {target.mask(str(exc).splitlines()[0])}"
        ) from exc


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


# ---- runs left open ------------------------------------------------------------------------


def owner() -> tuple[str, int]:
    """Return (host, pid) of this process, as recorded beside its runs."""
    return socket.gethostname(), os.getpid()


def pid_alive(pid: int) -> bool:
    """Return True when a process with ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---- the store's write rules on the lake (see store.py for the file's) ------------------------

_UPSERT_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # table: (columns, key)
    "releases": (
        (
            "tool_id",
            "source",
            "project",
            "version",
            "released_at",
            "is_prerelease",
            "is_yanked",
            "version_valid",
            "title",
        ),
        ("tool_id", "source", "project", "version"),
    ),
    "repo_identities": (
        (
            "tool_id",
            "repo_id",
            "full_name",
            "catalog_name",
            "created_at",
            "description",
            "updated_at",
        ),
        ("tool_id",),
    ),
    "http_cache": (("url", "etag", "last_modified", "updated_at"), ("url",)),
    "demand_monthly": (
        ("tool_id", "source", "month", "mentions", "total"),
        ("tool_id", "source", "month"),
    ),
}


def _replace_on_key(table: str) -> str:
    cols, key = _UPSERT_COLUMNS[table]
    k = ", ".join(key)
    c = ", ".join(cols)
    # the tool_id bounds are constants: DuckLake skips the files whose min/max rule them out
    bounds = "tool_id BETWEEN $min_tool AND $max_tool AND " if "tool_id" in key else ""
    return f"""
        DELETE FROM {table} WHERE {bounds}({k}) IN (SELECT {k} FROM _src);
        INSERT INTO {table} ({c}) SELECT {c} FROM _src
        QUALIFY row_number() OVER (PARTITION BY {k}) = 1
    """


# Each statement reads the registered Arrow table `_src`; same outcome as store._UPSERTS.
LAKE_UPSERTS: dict[str, str] = {
    "releases": _replace_on_key("releases"),
    "repo_identities": _replace_on_key("repo_identities"),
    "http_cache": _replace_on_key("http_cache"),
    # a re-read month replaces the stored figures (store.py: ON CONFLICT DO UPDATE)
    "demand_monthly": _replace_on_key("demand_monthly"),
    # a stored 'github' week is never replaced by a 'snapshot' one: delete what is replaced,
    # then insert the keys that are no longer there (the protected ones still are)
    "star_history": """
        DELETE FROM star_history h
        WHERE h.tool_id BETWEEN $min_tool AND $max_tool
          AND (h.tool_id, h.week_start) IN (SELECT tool_id, week_start FROM _src)
          AND NOT (h.source = 'github' AND (h.tool_id, h.week_start) IN (
                   SELECT tool_id, week_start FROM _src WHERE source = 'snapshot'));
        INSERT INTO star_history (tool_id, repo, week_start, stars_added, source)
        SELECT tool_id, repo, week_start, stars_added, source FROM _src s
        WHERE NOT EXISTS (SELECT 1 FROM star_history h
                          WHERE h.tool_id BETWEEN $min_tool AND $max_tool
                            AND h.tool_id = s.tool_id AND h.week_start = s.week_start)
        QUALIFY row_number() OVER (PARTITION BY tool_id, week_start
                                   ORDER BY source = 'github' DESC) = 1
    """,
    "repo_snapshots": """
        INSERT INTO repo_snapshots (tool_id, repo, observed_at, stars, forks, open_issues,
                                    watchers, archived, pushed_at)
        SELECT tool_id, repo, observed_at, stars, forks, open_issues, watchers, archived,
               pushed_at FROM _src s
        WHERE NOT EXISTS (SELECT 1 FROM repo_snapshots x
                          WHERE x.tool_id BETWEEN $min_tool AND $max_tool AND x.tool_id = s.tool_id
                          AND x.repo = s.repo AND x.observed_at = s.observed_at)
        QUALIFY row_number() OVER (PARTITION BY tool_id, repo, observed_at) = 1
    """,
}

LAKE_CARRY_RELEASES = """
    INSERT INTO releases (tool_id, source, project, version, released_at, is_prerelease,
                          is_yanked, version_valid, title)
    SELECT tool_id, source, $new, version, released_at, is_prerelease, is_yanked,
           version_valid, title FROM releases r
    WHERE tool_id = $tool AND source = 'github' AND project <> $new
      AND NOT EXISTS (SELECT 1 FROM releases x WHERE x.tool_id = $tool AND x.tool_id = r.tool_id
                      AND x.source = 'github' AND x.project = $new AND x.version = r.version)
    QUALIFY row_number() OVER (PARTITION BY version) = 1
"""
