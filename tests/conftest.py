"""Shared test setup: no network beyond loopback, a clean environment, tmp DuckDB files, the
fake upstream."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fakes import FakeUpstream
from tests.backends import backend_params

FIXTURES = Path(__file__).parent / "fixtures"

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise OSError(f"tests must not use the network (tried to connect to {address!r})")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise OSError(f"tests must not use the network (tried to connect to {address!r})")
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never see the developer's tracker settings or token, and run in a tmp directory."""
    import os

    for name in list(os.environ):
        if name.startswith("TRACKER_") or name == "GITHUB_TOKEN":
            monkeypatch.delenv(name, raising=False)
    # base URLs point at a reserved, unroutable name so a missed mock fails loudly and offline
    monkeypatch.setenv("TRACKER_GITHUB_API_URL", "https://github.test/api/v3")
    monkeypatch.setenv("TRACKER_PYPI_URL", "https://pypi.test")
    monkeypatch.setenv("TRACKER_PYPISTATS_URL", "https://pypistats.test")
    monkeypatch.setenv("TRACKER_CLICKHOUSE_URL", "https://clickhouse.test")
    monkeypatch.setenv("TRACKER_APACHE_URL", "https://archive.test/dist")
    monkeypatch.setenv("TRACKER_HN_URL", "https://hn.test")
    monkeypatch.setenv("TRACKER_STACKEXCHANGE_URL", "https://stackexchange.test")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A path for a fresh DuckDB file."""
    return tmp_path / "t.duckdb"


@pytest.fixture
def store(db_path: Path) -> Iterator[Any]:
    """A Store on a migrated tmp DuckDB file with the bundled catalog loaded."""
    from tracker.catalog import load_catalog
    from tracker.warehouse import Store, open_db

    con = open_db(db_path)
    s = Store(con)
    s.refresh_tools(load_catalog())
    yield s
    con.close()


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    """Every upstream on 127.0.0.1 (random ports), stopped (and blocked requests released) after."""
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
def no_sleep() -> list[float]:
    """A list that records requested sleeps instead of sleeping (pass ``sleeps.append``)."""
    return []


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """CliRunner tests configure the root logger on a stream that closes; put it back after."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("tracker.schedule").setLevel(logging.NOTSET)  # `tracker schedule` sets it


# ---- warehouse backends (tests/backends.py) --------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A PostgreSQL server for the lake tests (None, with lake tests skipped, when there is none)."""
    from tests.backends import lake_extra_missing, start_pg_server, stop_pg_server

    if lake_extra_missing():
        yield None  # lake tests skip (or fail in CI) on the missing extra first
        return
    server, directory, reason = start_pg_server()
    if server is None:
        yield reason
        return
    try:
        yield server
    finally:
        if directory:
            stop_pg_server(directory)


@pytest.fixture(params=backend_params())
def backend(request: pytest.FixtureRequest, tmp_path: Path, pg_server: Any) -> Iterator[Any]:
    """One warehouse per test on each backend: file, lake-file, lake-pg."""
    from tests.backends import PgServer, finish, make_backend, unavailable

    name = request.param
    if name == "lake-pg" and not isinstance(pg_server, PgServer):
        from tests.backends import lake_extra_missing

        unavailable(lake_extra_missing() or str(pg_server))
    yield from finish(make_backend(name, tmp_path, pg_server if name == "lake-pg" else None))
