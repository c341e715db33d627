"""Settings resolved once from environment variables and CLI flags (CLI flags win)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from tracker.errors import ConfigError, WarehouseError
from tracker.warehouse.lake import LakeTarget, parse_target

__all__ = [
    "DEFAULT_APACHE_URL",
    "DEFAULT_CLICKHOUSE_URL",
    "DEFAULT_CLICKHOUSE_USER",
    "DEFAULT_DB",
    "DEFAULT_GITHUB_API_URL",
    "DEFAULT_HN_URL",
    "DEFAULT_PYPISTATS_URL",
    "DEFAULT_PYPI_URL",
    "DEFAULT_STACKEXCHANGE_URL",
    "Settings",
    "derive_graphql_url",
    "load_settings",
]

DEFAULT_DB = "./tracker.duckdb"
DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_PYPI_URL = "https://pypi.org"
DEFAULT_PYPISTATS_URL = "https://pypistats.org"
DEFAULT_CLICKHOUSE_URL = "https://sql-clickhouse.clickhouse.com"
# the read-only user ClickPy's README names for that host; the collector tries "play" once
# when it is refused, unless TRACKER_CLICKHOUSE_USER names a user (collectors/clickpy.py)
DEFAULT_CLICKHOUSE_USER = "demo"
DEFAULT_APACHE_URL = "https://archive.apache.org/dist"
DEFAULT_HN_URL = "https://hn.algolia.com"  # Algolia's HN Search API (/api/v1/...)
DEFAULT_STACKEXCHANGE_URL = "https://api.stackexchange.com"  # Stack Exchange API (/2.3/...)


def derive_graphql_url(rest_url: str) -> str:
    """Return the GraphQL endpoint for a REST base: ``.../api/v3`` -> ``.../api/graphql``."""
    base = rest_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base[: -len("/v3")] + "/graphql"
    return base + "/graphql"


def _check_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name}={value!r} is not an http(s) URL")
    return value.rstrip("/")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a command needs to know about its environment."""

    db_path: Path = Path(DEFAULT_DB)  # the DuckDB file (unused when ``lake`` is set)
    lake: LakeTarget | None = None  # TRACKER_DB=ducklake:...: the DuckLake instead of a file
    data_path: str | None = None  # TRACKER_DATA_PATH: the lake's Parquet files
    github_token: str | None = field(default=None, repr=False)
    github_api_url: str = DEFAULT_GITHUB_API_URL
    github_graphql_url: str = field(
        default_factory=lambda: derive_graphql_url(DEFAULT_GITHUB_API_URL)
    )
    pypi_url: str = DEFAULT_PYPI_URL
    pypistats_url: str = DEFAULT_PYPISTATS_URL
    clickhouse_url: str = DEFAULT_CLICKHOUSE_URL
    apache_url: str = DEFAULT_APACHE_URL
    catalog_path: Path | None = None
    http_timeout: float = 30.0
    http_retries: int = 4
    pypi_concurrency: int = 8
    # read-only user of the ClickPy endpoint; None: DEFAULT_CLICKHOUSE_USER, "play" if refused
    clickhouse_user: str | None = None
    hn_url: str = DEFAULT_HN_URL
    stackexchange_url: str = DEFAULT_STACKEXCHANGE_URL
    # an app key is not secret (it raises the daily quota from 300 to 10,000), but not shown
    stackexchange_key: str | None = field(default=None, repr=False)

    def with_db(self, db: Path | str | None) -> Settings:
        """Return a copy whose DB is ``db`` when given (a CLI flag wins over TRACKER_DB).

        ``db`` is a DuckDB file path or a ``ducklake:`` target; raises ConfigError on a bad one.
        """
        if db is None:
            return self
        lake = parse_target(str(db), self.data_path)
        if lake is not None:
            return replace(self, lake=lake)
        return replace(self, db_path=Path(db), lake=None)

    @property
    def db_target(self) -> Path | LakeTarget:
        """The warehouse: the DuckDB file path, or the DuckLake target."""
        return self.lake if self.lake is not None else self.db_path

    @property
    def db_label(self) -> str:
        """The warehouse as logs and messages name it (a lake's password masked)."""
        return self.lake.display if self.lake is not None else str(self.db_path)

    def mask(self, text: str) -> str:
        """Return ``text`` with the lake catalog's password masked (a file target: unchanged)."""
        return self.lake.mask(text) if self.lake is not None else text

    def database_error(self, exc: BaseException) -> WarehouseError:
        """The one-line error for a DuckDB error on this warehouse (e.g. a damaged file)."""
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return WarehouseError(f"{self.db_label}: database error: {self.mask(first)}")

    def __repr__(self) -> str:  # never show the token or a catalog password
        token = "set" if self.github_token else "unset"
        return f"Settings(db={self.db_label!r}, github_token={token})"


def load_settings(
    env: Mapping[str, str] | None = None, *, db: Path | str | None = None
) -> Settings:
    """Return settings from ``env`` (default ``os.environ``); raises ConfigError on bad values.

    ``db`` (the ``--db`` flag) replaces TRACKER_DB when given.
    """
    env = os.environ if env is None else env

    def get(name: str) -> str | None:
        value = env.get(name)
        return value.strip() if value and value.strip() else None

    github_api = _check_url(
        "TRACKER_GITHUB_API_URL", get("TRACKER_GITHUB_API_URL") or DEFAULT_GITHUB_API_URL
    )
    graphql = get("TRACKER_GITHUB_GRAPHQL_URL")
    catalog = get("TRACKER_CATALOG")
    db_spec = str(db) if db is not None else get("TRACKER_DB") or DEFAULT_DB
    data_path = get("TRACKER_DATA_PATH")
    lake = parse_target(db_spec, data_path)
    return Settings(
        db_path=Path(DEFAULT_DB if lake else db_spec),
        lake=lake,
        data_path=data_path,
        github_token=get("GITHUB_TOKEN"),
        github_api_url=github_api,
        github_graphql_url=_check_url("TRACKER_GITHUB_GRAPHQL_URL", graphql)
        if graphql
        else derive_graphql_url(github_api),
        pypi_url=_check_url("TRACKER_PYPI_URL", get("TRACKER_PYPI_URL") or DEFAULT_PYPI_URL),
        pypistats_url=_check_url(
            "TRACKER_PYPISTATS_URL", get("TRACKER_PYPISTATS_URL") or DEFAULT_PYPISTATS_URL
        ),
        clickhouse_url=_check_url(
            "TRACKER_CLICKHOUSE_URL", get("TRACKER_CLICKHOUSE_URL") or DEFAULT_CLICKHOUSE_URL
        ),
        apache_url=_check_url(
            "TRACKER_APACHE_URL", get("TRACKER_APACHE_URL") or DEFAULT_APACHE_URL
        ),
        catalog_path=Path(catalog) if catalog else None,
        clickhouse_user=_check_clickhouse_user(get("TRACKER_CLICKHOUSE_USER")),
        hn_url=_check_url("TRACKER_HN_URL", get("TRACKER_HN_URL") or DEFAULT_HN_URL),
        stackexchange_url=_check_url(
            "TRACKER_STACKEXCHANGE_URL",
            get("TRACKER_STACKEXCHANGE_URL") or DEFAULT_STACKEXCHANGE_URL,
        ),
        stackexchange_key=_check_stackexchange_key(get("TRACKER_STACKEXCHANGE_KEY")),
    )


def _check_stackexchange_key(value: str | None) -> str | None:
    # app keys are short URL-safe strings such as ``U4DMV*8nvpm3EOpvf69Rxw((``
    if value is not None and not re.fullmatch(r"[A-Za-z0-9*()_.~-]{1,100}", value):
        raise ConfigError(
            "TRACKER_STACKEXCHANGE_KEY is not a Stack Exchange app key "
            "(letters, digits and *()_.~- only)"
        )
    return value


def _check_clickhouse_user(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value):
        raise ConfigError(
            f"TRACKER_CLICKHOUSE_USER={value!r} is not a ClickHouse user name (letters, digits, _.-)"
        )
    return value
