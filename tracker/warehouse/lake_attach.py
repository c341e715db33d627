"""DuckLake targets and connections: parsing ``ducklake:<catalog>``, masking its password, and
attaching it with the extensions of the ``tracker[lake]`` extra (see lake.py for the whole)."""

from __future__ import annotations

import importlib.util
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tracker.errors import ConfigError, WarehouseError

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "LAKE_ALIAS",
    "LakeTarget",
    "connect_lake",
    "extension_files",
    "is_lake",
    "mask_secrets",
    "parse_target",
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
