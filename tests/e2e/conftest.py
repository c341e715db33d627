"""Fixtures and helpers of the end-to-end suite: the loopback fake and `tracker` subprocesses."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest

from fakes import FakeUpstream, PypiVersion

# A row of `releases` as the tests compare it.
ReleaseRow = tuple[str, str, str, datetime | None, bool, bool, bool]


@pytest.fixture
def e2e_env(fake: FakeUpstream, tmp_path: Path) -> dict[str, str]:
    """Environment for a `tracker` subprocess: the clean test env, the fake's URLs, a tmp DB."""
    env = dict(os.environ)
    env.update(fake.env())
    env["TRACKER_DB"] = str(tmp_path / "e2e.duckdb")
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("GITHUB_TOKEN", None)
    # an app key (not secret) lifts Stack Exchange's quota from 300 to 10,000 requests a day, so
    # runs of every source fit in one day whatever the date; quota scenarios remove it
    env["TRACKER_STACKEXCHANGE_KEY"] = "e2e-app-key"
    return env


def run_tracker(
    args: Sequence[str], env: Mapping[str, str], *, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m tracker ARGS`` to completion and return it (text stdout/stderr)."""
    return subprocess.run(
        [sys.executable, "-m", "tracker", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Spawned:
    """A running `tracker` subprocess whose stdout/stderr are collected by reader threads."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tracker", *args],
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lock = threading.Lock()
        self._out: list[str] = []
        self._err: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self._out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self._err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[str], sink: list[str]) -> None:
        for line in stream:
            with self._lock:
                sink.append(line)

    @property
    def stdout(self) -> str:
        with self._lock:
            return "".join(self._out)

    @property
    def stderr(self) -> str:
        with self._lock:
            return "".join(self._err)

    def wait_for_stderr(self, predicate: Callable[[str], bool], timeout: float = 30.0) -> None:
        """Poll until ``predicate(stderr so far)`` holds; fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate(self.stderr):
            if self.proc.poll() is not None:
                # let the readers drain, then check one last time
                for reader in self._readers:
                    reader.join(timeout=5)
                if predicate(self.stderr):
                    return
                raise AssertionError(
                    f"tracker exited ({self.proc.returncode}) first; stderr:\n{self.stderr}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"stderr condition not met in {timeout}s:\n{self.stderr}")
            time.sleep(0.02)

    def wait(self, timeout: float = 60.0) -> int:
        """Wait for the exit code; readers are drained before returning."""
        code = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return code

    def kill(self) -> None:
        """Stop the process if it is still running (used in test cleanup)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def spawn() -> Iterator[Callable[[Sequence[str], Mapping[str, str]], Spawned]]:
    """Start `tracker` subprocesses; any still running at the end of the test is killed."""
    started: list[Spawned] = []

    def start(args: Sequence[str], env: Mapping[str, str]) -> Spawned:
        proc = Spawned(args, env)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


def query(db: Path, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    """Return the rows of ``sql`` on the DuckDB file ``db`` (opened read-only), or on a
    tests.backends.Backend (any backend, a lake included) given instead of the path."""
    import duckdb

    if not isinstance(db, Path):
        return db.query(sql, params)  # type: ignore[unreachable]

    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def query_distinct(db: Path, sql: str, params: Sequence[object] = ()) -> set[tuple[Any, ...]]:
    """Return the rows of ``sql`` as a set, asserting that no row stands twice."""
    rows = query(db, sql, params)
    assert len(rows) == len(set(rows))
    return set(rows)


def stored_releases(db: Path, source: str = "pypi") -> set[ReleaseRow]:
    """Return the `releases` rows of ``source`` as comparable tuples."""
    rows = query(
        db,
        "SELECT tool_id, project, version, released_at, is_prerelease, is_yanked, version_valid"
        " FROM releases WHERE source = ?",
        [source],
    )
    return {(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows}


def expected_releases(fake: FakeUpstream, tools: Mapping[str, Sequence[str]]) -> set[ReleaseRow]:
    """Return the rows tracker must store for ``tools`` (tool id -> packages) from the fake."""
    from packaging.version import InvalidVersion, Version

    out: set[ReleaseRow] = set()
    for tool_id, packages in tools.items():
        for package in packages:
            display, versions = fake.pypi.projects[fake.pypi.normalize(package)]
            for v in versions:
                if v.files == 0:
                    continue
                try:
                    pre, valid = Version(v.version).is_prerelease, True
                except InvalidVersion:
                    pre, valid = False, False
                when = v.uploaded.astimezone(UTC).replace(tzinfo=None) if v.uploaded else None
                out.add(
                    (tool_id, fake.pypi.normalize(display), v.version, when, pre, v.yanked, valid)
                )
    return out


def synthetic_versions(package: str) -> list[PypiVersion]:
    """Return a deterministic, varied release history for ``package`` (3-6 versions)."""
    h = int(hashlib.sha256(package.encode()).hexdigest()[:8], 16)
    start = datetime(2016, 1, 1, tzinfo=UTC) + timedelta(days=h % 2000, microseconds=h % 999_999)
    names = ["0.9.0", "1.0.0rc1", "1.0.0", "1.1.0", "2.0.0b2", "2.0.0"][: 3 + h % 4]
    return [
        PypiVersion(
            version,
            start + timedelta(days=45 * i, seconds=i * 17),
            yanked=(i == 1 and h % 3 == 0),
            files=1 + (i + h) % 3,
        )
        for i, version in enumerate(names)
    ]


# The scenarios that collect "the catalog" take a sample of it: the first CATALOG_SAMPLE trackable
# tools with PyPI packages, plus the ones the scenarios inject faults into. The whole bundled
# catalog (over 250 such tools) would make each of these subprocess runs several times slower
# without checking anything more; the runs pass the sample with --tool.
CATALOG_SAMPLE = 50
SAMPLE_ALWAYS = ("sacred", "dvc", "mlflow", "kedro", "dagster", "prefect")


def catalog_pypi_tools(sample: int | None = CATALOG_SAMPLE) -> dict[str, tuple[str, ...]]:
    """Return tool id -> PyPI packages of trackable bundled tools that have packages.

    ``sample``: the first that many in catalog order plus SAMPLE_ALWAYS; None for all of them.
    """
    from tracker.catalog import load_catalog

    tools = [t for t in load_catalog().tools if t.trackable and t.pypi]
    if sample is None:
        return {t.id: t.pypi for t in tools}
    keep = {t.id for t in tools[:sample]} | set(SAMPLE_ALWAYS)
    return {t.id: t.pypi for t in tools if t.id in keep}


def tool_args(tools: Iterable[str]) -> list[str]:
    """Return ``--tool ID`` arguments for ``tools``."""
    return [arg for tool in tools for arg in ("--tool", tool)]


def serve_catalog(fake: FakeUpstream, tools: Mapping[str, Sequence[str]]) -> None:
    """Give the fake a synthetic history for every package of ``tools``."""
    for packages in tools.values():
        for package in packages:
            fake.pypi.add_project(package, synthetic_versions(package))


def sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
