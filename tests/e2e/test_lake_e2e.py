"""`tracker collect`, `report` and `status` as subprocesses on every backend (the loopback fake
upstream, exact rows compared), and concurrent writers plus a reader on a PostgreSQL lake."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

import tests.e2e.conftest as e2e
from fakes import FakeUpstream
from tests.backends import backend_params
from tests.e2e.test_scenarios_demand import TOOL_ARGS as DEMAND_TOOL_ARGS
from tests.e2e.test_scenarios_demand import TOOLS as DEMAND_TOOLS
from tests.e2e.test_scenarios_demand import (
    _add,
    _month,
    _stored_through,
    expected_hn,
    expected_so,
    serve_month,
    serve_questions,
    stored,
)
from tests.e2e.test_scenarios_demand import _env as demand_env
from tests.e2e.test_scenarios_sources import (
    _daily,
    _downloads,
    _exp_downloads,
    exp_gh_releases,
    exp_identities,
    exp_snapshots,
    exp_weeks,
    gh_repo,
    got_gh_releases,
    got_identities,
    got_snapshots,
    got_weeks,
)

pytestmark = pytest.mark.slow

SOURCES = ("github", "pypi", "pypistats", "clickpy", "apache", "hn", "stackoverflow")
SpawnFn = Callable[[Sequence[str], Mapping[str, str]], e2e.Spawned]
KEYS = {  # each table's key: never stored twice
    "releases": "tool_id, source, project, version",
    "star_history": "tool_id, week_start",
    "repo_snapshots": "tool_id, repo, observed_at",
    "repo_identities": "tool_id",
    "http_cache": "url",
    "downloads_daily": "tool_id, package, day, source",
    "tools": "tool_id",
    "skills": "skill",
    "runs": "run_id",
    "demand_monthly": "tool_id, source, month",
    "tool_labels": "as_of, tool_id, metric",
    "skill_labels": "as_of, skill, metric",
}


def _env(e2e_env: dict[str, str], backend: Any) -> dict[str, str]:
    env = dict(e2e_env)
    env.pop("TRACKER_DATA_PATH", None)
    env.update(backend.env())
    return env


class _Reader:
    """Reads a backend through ONE read-only connection (query() as tests.e2e.conftest.query
    expects of a backend): each round's checks attach the lake once, not once per query."""

    def __init__(self, backend: Any) -> None:
        self.con = backend.connect(read_only=True)

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return list(self.con.execute(sql, list(params)).fetchall())

    def close(self) -> None:
        self.con.close()


def _assert_no_duplicate_keys(backend: Any) -> None:
    for table, key in KEYS.items():
        rows = e2e.query(
            backend, f"SELECT count(*), count(DISTINCT ({key})) FROM {table}"
        )  # struct of the key columns
        assert rows[0][0] == rows[0][1], f"{table}: duplicate keys"


@pytest.mark.parametrize("backend", backend_params(), indirect=True)
def test_every_source_stored_exactly_and_rerun_is_idempotent(
    fake: FakeUpstream, e2e_env: dict[str, str], backend: Any, tmp_path: Any
) -> None:
    env = _env(e2e_env, backend)
    pypi_tools = {"sacred": ("sacred",)}
    e2e.serve_catalog(fake, pypi_tools)
    repos = {
        "sacred": gh_repo(fake, "sacred", "IDSIA/sacred"),
        "oozie": gh_repo(fake, "oozie", "apache/oozie"),
    }
    stats = _daily("sacred")
    fake.pypistats.add_package("sacred", stats)
    clicks = _daily("sacred", 30)
    fake.clickhouse.add_project("sacred", clicks)
    t = datetime(2021, 1, 4, 10, 30, tzinfo=UTC)
    fake.apache.add_project("oozie", {"5.2.1": t})
    # hn threads and Stack Overflow counts (the site's totals serve every tool's months)
    started = datetime.now(UTC)
    served = [_add(_month(started), -back) for back in (3, 2, 1, 0)]
    for month in served:
        serve_month(fake, month)
    serve_questions(fake, _month(started))

    for attempt in range(2):
        done = e2e.run_tracker(["collect", "--tool", "sacred", "--tool", "oozie"], env, timeout=180)
        assert done.returncode == 0, done.stderr
        for source in SOURCES:
            assert any(line.startswith(f"{source}: ok") for line in done.stdout.splitlines()), (
                done.stdout
            )
        catalog = {"sacred": "IDSIA/sacred", "oozie": "apache/oozie"}
        assert got_snapshots(backend) == exp_snapshots(repos)
        assert got_weeks(backend) == exp_weeks(repos)
        assert got_gh_releases(backend) == exp_gh_releases(repos)
        assert got_identities(backend) == exp_identities(repos, catalog)
        assert e2e.stored_releases(backend) == e2e.expected_releases(fake, pypi_tools)
        assert _downloads(backend, "pypistats") == _exp_downloads("sacred", "sacred", stats)
        assert _downloads(backend, "clickpy") == _exp_downloads("sacred", "sacred", clicks)
        assert e2e.stored_releases(backend, "apache") == {
            ("oozie", "oozie", "5.2.1", t.replace(tzinfo=None), False, False, True)
        }
        _assert_no_duplicate_keys(backend)
        runs = e2e.query(backend, "SELECT count(*), count(*) FILTER (status = 'ok') FROM runs")
        n = len(SOURCES) * (attempt + 1)
        assert runs == [(n, n)]
        assert e2e.query(backend, "SELECT count(*) FROM run_errors") == [(0,)]

    # the demand sources on three tools of a catalog override: job posts and questions exact
    # with an app key: the whole Stack Overflow backfill fits one day's quota
    denv = {**demand_env(env, tmp_path), "TRACKER_STACKEXCHANGE_KEY": "e2e-app-key"}
    for _ in range(2):
        done = e2e.run_tracker(
            ["collect", "-s", "hn", "-s", "stackoverflow", *DEMAND_TOOL_ARGS], denv
        )
        assert done.returncode == 0, done.stderr
        assert _demand(backend, "hn") == expected_hn(fake, served)
        complete = _stored_through(fake, backend, started)
        assert _demand(backend, "stackoverflow") == expected_so(fake, complete)
        _assert_no_duplicate_keys(backend)
    assert e2e.query(backend, "SELECT count(*) FROM runs WHERE status <> 'ok'") == [(0,)]

    out = tmp_path / "rep"
    done = e2e.run_tracker(["report", "--out", str(out), "--json"], env, timeout=180)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["files"]) == 3
    # the report stored its labels in the warehouse (one as-of date, each key once)
    labels = e2e.query(backend, "SELECT count(DISTINCT as_of), count(*) FROM tool_labels")
    assert labels[0][0] == 1 and labels[0][1] > 0
    _assert_no_duplicate_keys(backend)
    done = e2e.run_tracker(["status", "--json"], env, timeout=180)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["db"] == backend.spec
    assert {s["source"]: s["last_run"]["status"] for s in doc["sources"] if s["last_run"]} == {
        source: "ok" for source in SOURCES
    }


def _demand(backend: Any, source: str) -> set[tuple[object, ...]]:
    """The demand rows of the demand scenarios' tools (the bundled tools may add their own)."""
    return {row for row in stored(backend, source) if row[0] in DEMAND_TOOLS}


ROUNDS = int(os.environ.get("TRACKER_TEST_ROUNDS", "20"))  # read at import (see backends.py)


@pytest.mark.parametrize("backend", backend_params("lake-pg"), indirect=True)
def test_two_writers_and_a_reader_lose_and_duplicate_nothing(
    fake: FakeUpstream, e2e_env: dict[str, str], backend: Any, spawn: SpawnFn, tmp_path: Any
) -> None:
    """github and pypi collect at once while `report` reads and stores its labels, 20 rounds;
    after each round the stored rows are exactly the fake's, no key twice, every run ok, no run
    error. (Small rounds: two GitHub repos, three PyPI tools; the rounds are what matters.)"""
    env = _env(e2e_env, backend)
    pypi_tools = dict(list(e2e.catalog_pypi_tools().items())[:3])
    e2e.serve_catalog(fake, pypi_tools)
    gh_tools = {"sacred": "IDSIA/sacred", "oozie": "apache/oozie"}
    repos = {tool: gh_repo(fake, tool, name) for tool, name in gh_tools.items()}
    pypi_args = [a for tool in pypi_tools for a in ("--tool", tool)]
    gh_args = [a for tool in gh_tools for a in ("--tool", tool)]
    # the lake exists (migrated) before the rounds: a report needs its tables
    fake.apache.add_project("oozie", {"5.2.1": datetime(2021, 1, 4, tzinfo=UTC)})
    first = e2e.run_tracker(["collect", "--source", "apache", "--tool", "oozie"], env)
    assert first.returncode == 0, first.stderr

    retried = 0
    for round_no in range(1, ROUNDS + 1):
        procs = [
            spawn(["--log-level", "info", "collect", "--source", "github", *gh_args], env),
            spawn(["--log-level", "info", "collect", "--source", "pypi", *pypi_args], env),
            spawn(["report", "--quiet", "--out", str(tmp_path / f"rep{round_no}")], env),
        ]
        codes = [p.wait(timeout=300) for p in procs]
        assert codes == [0, 0, 0], f"round {round_no}: exit codes {codes}\n" + "\n".join(
            f"--- {p.proc.args[3:6]}: {p.stdout[-500:]}\n{p.stderr[-2500:]}"
            for p, code in zip(procs, codes, strict=True)
            if code
        )
        retried += sum(p.stderr.count("lake transaction conflict") for p in procs)
        reader: Any = _Reader(backend)
        try:
            assert e2e.stored_releases(reader) == e2e.expected_releases(fake, pypi_tools)
            assert got_gh_releases(reader) == exp_gh_releases(repos)
            assert got_weeks(reader) == exp_weeks(repos)
            assert got_identities(reader) == exp_identities(repos, gh_tools)
            assert got_snapshots(reader) == exp_snapshots(repos)
            snapshots = e2e.query(reader, "SELECT count(*) FROM repo_snapshots")
            assert snapshots == [(len(repos) * round_no,)]  # one per repo per round: none lost
            _assert_no_duplicate_keys(reader)
            runs = e2e.query(
                reader,
                "SELECT source, status, count(*) FROM runs WHERE source IN ('github', 'pypi')"
                " GROUP BY ALL ORDER BY ALL",
            )
            assert runs == [("github", "ok", round_no), ("pypi", "ok", round_no)]
            assert e2e.query(reader, "SELECT count(*) FROM run_errors") == [(0,)]
            # each report stored its labels (today's as-of date, replaced each round, each once)
            labels = e2e.query(reader, "SELECT count(DISTINCT as_of), count(*) FROM tool_labels")
            assert labels[0][0] == 1 and labels[0][1] > 0
        finally:
            reader.close()
        assert (tmp_path / f"rep{round_no}" / "trends.json").is_file()
    print(f"{retried} conflicting commits were retried over {ROUNDS} rounds")


@pytest.mark.parametrize("backend", backend_params("lake-pg"), indirect=True)
def test_two_collects_of_one_source_store_each_key_once(
    fake: FakeUpstream, e2e_env: dict[str, str], backend: Any, spawn: SpawnFn
) -> None:
    env = _env(e2e_env, backend)
    tools = dict(list(e2e.catalog_pypi_tools().items())[:10])
    e2e.serve_catalog(fake, tools)
    args = ["collect", "--source", "pypi", *[a for t in tools for a in ("--tool", t)]]
    procs = [spawn(args, env), spawn(args, env)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0], [p.stderr for p in procs]
    assert e2e.stored_releases(backend) == e2e.expected_releases(fake, tools)
    _assert_no_duplicate_keys(backend)
