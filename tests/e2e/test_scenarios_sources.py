"""End-to-end scenarios for the GitHub, pypistats, ClickPy and Apache sources (issue 8, part 2).

`tracker collect` runs as a subprocess against the loopback fake; every test compares the stored
rows (SQL on the DuckDB file) with the fake's data. No fixed sleeps: blocked responses are held
by Events; retry waits are kept at 0-1 s through small ``Retry-After`` values.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from fakes import FakeUpstream, Fault, GhRelease, GhRepo, StarWeek, at
from tests.e2e.conftest import (
    Spawned,
    expected_releases,
    query,
    query_distinct,
    run_tracker,
    serve_catalog,
    stored_releases,
)

pytestmark = pytest.mark.slow

SpawnFn = Callable[[Sequence[str], Mapping[str, str]], Spawned]

# catalog tools and their GitHub repos, in `--tool` order (the collector is serial, in this order)
GH = {
    "sacred": "IDSIA/sacred",
    "dvc": "treeverse/dvc",
    "mlflow": "mlflow/mlflow",
    "kedro": "kedro-org/kedro",
}
NEWEST_WEEK = date(2026, 11, 15)  # a Sunday


def _tool_args(tools: Sequence[str]) -> list[str]:
    return [arg for tool in tools for arg in ("--tool", tool)]


def _db(env: Mapping[str, str]) -> Path:
    return Path(env["TRACKER_DB"])


def _collect_partial(source: str, env: Mapping[str, str]) -> tuple[Any, Path]:
    """Collect ``source`` for sacred, dvc and mlflow; assert one tool failed; return the run and
    the database."""
    done = run_tracker(
        ["collect", "-s", source, "--tool", "sacred", "--tool", "dvc", "--tool", "mlflow"], env
    )
    assert done.returncode == 1
    assert f"{source}: partial, 2 tools stored, 1 failed" in done.stdout
    return done, _db(env)


def _naive(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC).replace(tzinfo=None) if value is not None else None


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def gh_repo(fake: FakeUpstream, tool: str, name: str, *, weeks: int | None = None) -> GhRepo:
    """Add a deterministic repo for ``tool``: counters, 5 releases (one draft), star weeks."""
    h = _h(tool)
    n_weeks = weeks if weeks is not None else 5 + h % 20  # one page (30 a page)
    star_weeks = [
        StarWeek(
            NEWEST_WEEK - timedelta(weeks=i),
            (i % 3, h % 5, 1, 0, (i * 7) % 4, 2, -1 if i % 4 == 0 else 0),
        )
        for i in range(n_weeks)
    ]
    base = at("2023-01-02T10:00:00Z") + timedelta(days=h % 300)
    releases = [
        GhRelease("v1.0.0", base, base + timedelta(minutes=5), name=f"{tool} one"),
        GhRelease(
            "v1.1.0rc1", base + timedelta(days=30), base + timedelta(days=30), None, False, True
        ),
        GhRelease("v1.1.0", base + timedelta(days=40), base + timedelta(days=41), name="1.1"),
        GhRelease("nightly-build", base + timedelta(days=50), base + timedelta(days=50), "n"),
        GhRelease("v2.0.0", base + timedelta(days=60), None, name="draft", draft=True),
    ]
    return fake.github.add_repo(
        name,
        description=f"{tool}: the fake's description",
        created_at=at("2015-06-01T08:00:00Z") + timedelta(days=h % 900),
        pushed_at=at("2026-11-20T12:34:56Z") - timedelta(hours=h % 500),
        stargazers_count=sum(w.total for w in star_weeks),
        forks_count=h % 1000,
        open_issues_count=40 + h % 50,
        open_pull_requests=h % 40,
        subscribers_count=h % 300,
        releases=releases,
        star_weeks=star_weeks,
    )


def serve_github(fake: FakeUpstream, tools: Sequence[str]) -> dict[str, GhRepo]:
    """Add the repo of every tool of ``tools`` (catalog names from GH)."""
    return {tool: gh_repo(fake, tool, GH[tool]) for tool in tools}


# ---- expected vs stored GitHub rows ---------------------------------------------------------


def exp_snapshots(repos: Mapping[str, GhRepo]) -> set[tuple[object, ...]]:
    return {
        (
            tool,
            r.full_name,
            r.stargazers_count,
            r.forks_count,
            r.open_issues_count,
            r.subscribers_count,
            r.archived,
            _naive(r.pushed_at),
        )
        for tool, r in repos.items()
    }


def got_snapshots(db: Path, latest: bool = True) -> set[tuple[object, ...]]:
    sql = (
        "SELECT tool_id, repo, stars, forks, open_issues, watchers, archived, pushed_at"
        " FROM repo_snapshots"
    )
    if latest:
        sql += " QUALIFY row_number() OVER (PARTITION BY tool_id ORDER BY observed_at DESC) = 1"
    return set(query(db, sql))


def exp_weeks(repos: Mapping[str, GhRepo]) -> set[tuple[object, ...]]:
    return {
        (tool, r.full_name, w.week, w.total, "github")
        for tool, r in repos.items()
        for w in r.star_weeks
    }


def got_weeks(db: Path) -> set[tuple[object, ...]]:
    rows = query(db, "SELECT tool_id, repo, week_start, stars_added, source FROM star_history")
    assert len(rows) == len(set(rows))
    return set(rows)


def exp_gh_releases(repos: Mapping[str, GhRepo]) -> set[tuple[object, ...]]:
    from packaging.version import InvalidVersion, Version

    out: set[tuple[object, ...]] = set()
    for tool, r in repos.items():
        for rel in r.releases:
            if rel.draft or rel.published_at is None:
                continue
            try:
                Version(rel.tag_name)
                valid = True
            except InvalidVersion:
                valid = False
            out.add(
                (
                    tool,
                    r.full_name,
                    rel.tag_name,
                    _naive(rel.published_at),
                    rel.prerelease,
                    False,
                    valid,
                    rel.name,
                )
            )
    return out


def got_gh_releases(db: Path) -> set[tuple[object, ...]]:
    rows = query(
        db,
        "SELECT tool_id, project, version, released_at, is_prerelease, is_yanked, version_valid,"
        " title FROM releases WHERE source = 'github'",
    )
    return set(rows)


def exp_identities(repos: Mapping[str, GhRepo], catalog: Mapping[str, str] = GH) -> set[object]:
    return {
        (tool, r.id, r.full_name, catalog[tool], _naive(r.created_at), r.description)
        for tool, r in repos.items()
    }


def got_identities(db: Path) -> set[object]:
    return set(
        query(
            db,
            "SELECT tool_id, repo_id, full_name, catalog_name, created_at, description"
            " FROM repo_identities",
        )
    )


def assert_github_exact(db: Path, repos: Mapping[str, GhRepo]) -> None:
    assert got_snapshots(db) == exp_snapshots(repos)
    assert got_weeks(db) == exp_weeks(repos)
    assert got_gh_releases(db) == exp_gh_releases(repos)
    assert got_identities(db) == exp_identities(repos)


def _stored_lines(stderr: str) -> set[str]:
    return {
        line.split("tool_id=", 1)[1].split()[0]
        for line in stderr.splitlines()
        if 'msg="tool stored"' in line
    }


def _with_token(env: Mapping[str, str], token: str | None) -> dict[str, str]:
    out = dict(env)
    if token:
        out["GITHUB_TOKEN"] = token
    return out


# ---- GitHub: transient faults ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["rest", "graphql"])
def test_github_transient_faults_are_retried_and_rows_are_exact(
    fake: FakeUpstream, e2e_env: dict[str, str], mode: str
) -> None:
    tools = list(GH)
    repos = {"sacred": gh_repo(fake, "sacred", "IDSIA/sacred", weeks=70)}  # three pages
    repos.update(serve_github(fake, tools[1:]))
    hist = "/stargazers/history"
    faults = [
        (rf"^/repos/IDSIA/sacred{hist}$", Fault.error(500, {"message": "Server Error"})),
        (rf"^/repos/IDSIA/sacred{hist}\?.*page=2", Fault("truncate")),
        (
            rf"^/repos/treeverse/dvc{hist}$",
            Fault.error(429, {"message": "Too Many Requests"}, headers={"Retry-After": "1"}),
        ),
        (rf"^/repos/mlflow/mlflow{hist}$", Fault.secondary_rate_limit(retry_after=1)),
        (rf"^/repos/kedro-org/kedro{hist}$", Fault("reset")),
    ]
    if mode == "rest":
        faults += [
            (r"^/repos/treeverse/dvc$", Fault.html_error(502)),
            (r"^/repos/mlflow/mlflow/releases$", Fault("reset")),
            (r"^/repos/kedro-org/kedro$", Fault("cut_json")),
        ]
    else:
        faults += [
            (r"^/graphql$", Fault.html_error(502)),
            (r"^/graphql$", Fault("reset")),
            (r"^/graphql$", Fault("cut_json")),
        ]
    for pattern, fault in faults:
        fake.faults.add(pattern, fault, source="github")
    env = _with_token(e2e_env, "ghp_e2e_token" if mode == "graphql" else None)

    done = run_tracker(["--log-level", "info", "collect", "-s", "github", *_tool_args(tools)], env)

    assert done.returncode == 0, done.stderr
    assert "github: ok, 4 tools stored, 0 failed" in done.stdout
    assert fake.faults.pending() == 0
    db = _db(env)
    assert_github_exact(db, repos)
    log = fake.log.find(source="github")
    assert query(db, "SELECT status, tools_ok, tools_failed, requests FROM runs") == [
        ("ok", 4, 0, len(log))
    ]
    assert query(db, "SELECT count(*) FROM run_errors") == [(0,)]
    assert {r.had_token for r in log} == {mode == "graphql"}
    graphql_posts = fake.log.count(source="github", path="^/graphql$")
    assert graphql_posts == (4 if mode == "graphql" else 0)  # one batch + three faults
    # 70 weeks = 3 pages, one of them cut and asked again
    assert fake.log.count(source="github", path=rf"^/repos/IDSIA/sacred{hist}$") == 5


# ---- GitHub: rate budget exhausted mid-run, then resume ------------------------------------


def test_github_budget_exhausted_stops_cleanly_then_resumes(
    fake: FakeUpstream, e2e_env: dict[str, str]
) -> None:
    tools = list(GH)
    repos = serve_github(fake, tools)
    budget = fake.github.core_anonymous
    budget.remaining = 7  # sacred 3, dvc 3, mlflow's repo: then the budget is gone
    budget.reset = int(datetime.now(UTC).timestamp()) + 3 * 3600
    until = datetime.fromtimestamp(budget.reset, UTC).strftime("%Y-%m-%dT%H:%MZ")
    reason = f"GitHub rate limit exhausted until {until} (x-ratelimit-reset); run again after that"

    first = run_tracker(["collect", "-s", "github", *_tool_args(tools)], e2e_env)

    assert first.returncode == 1, first.stderr
    assert "github: partial, 2 tools stored, 2 failed" in first.stdout
    # a clean stop: the collector read x-ratelimit-remaining: 0 and sent nothing more
    assert fake.log.count(source="github") == 7
    assert all(r.status == 200 for r in fake.log.all())
    db = _db(e2e_env)
    done = {k: repos[k] for k in ("sacred", "dvc")}
    assert got_weeks(db) == exp_weeks(done)
    assert got_gh_releases(db) == exp_gh_releases(done)
    # mlflow's repo answer arrived before the stop: its snapshot is kept and says so
    assert got_snapshots(db) == exp_snapshots({**done, "mlflow": repos["mlflow"]})
    assert query(db, "SELECT tool_id, error FROM run_errors ORDER BY tool_id") == [
        ("kedro", f"not collected: {reason}"),
        ("mlflow", f"not fully collected: {reason}"),
    ]
    assert query(db, "SELECT status, tools_ok, tools_failed, requests FROM runs") == [
        ("partial", 2, 2, 7)
    ]

    budget.remaining = 60  # the hour is over
    fake.log.clear()
    second = run_tracker(["collect", "-s", "github", *_tool_args(tools)], e2e_env)

    assert second.returncode == 0, second.stderr
    assert_github_exact(db, repos)
    seen = [(r.path, r.status) for r in fake.log.all()]
    assert seen == [
        # the two complete tools cost one conditional request each (304, nothing re-read)
        ("/repos/IDSIA/sacred", 304),
        ("/repos/treeverse/dvc", 304),
        ("/repos/mlflow/mlflow", 304),
        ("/repos/mlflow/mlflow/releases", 200),
        ("/repos/mlflow/mlflow/stargazers/history", 200),
        ("/repos/kedro-org/kedro", 200),
        ("/repos/kedro-org/kedro/releases", 200),
        ("/repos/kedro-org/kedro/stargazers/history", 200),
    ]
    counts = query(db, "SELECT tool_id, count(*) FROM repo_snapshots GROUP BY 1 ORDER BY 1")
    assert counts == [("dvc", 2), ("kedro", 1), ("mlflow", 2), ("sacred", 2)]
    assert query(db, "SELECT status, requests FROM runs ORDER BY run_id") == [
        ("partial", 7),
        ("ok", 8),
    ]


# ---- GitHub: renames, NOT_FOUND, paging -----------------------------------------------------


@pytest.mark.parametrize("mode", ["rest", "graphql"])
def test_github_renamed_repo_keeps_one_continuous_history(
    fake: FakeUpstream, e2e_env: dict[str, str], mode: str
) -> None:
    repos = serve_github(fake, ["sacred"])
    env = _with_token(e2e_env, "ghp_e2e_token" if mode == "graphql" else None)
    first = run_tracker(["collect", "-s", "github", "--tool", "sacred"], env)
    assert first.returncode == 0, first.stderr
    db = _db(env)
    repo = repos["sacred"]
    old_id = repo.id

    fake.github.rename("IDSIA/sacred", "sacred-org/sacred")
    newest = NEWEST_WEEK + timedelta(weeks=1)
    repo.star_weeks.append(StarWeek(newest, (3, 0, 0, 0, 0, 0, 1)))
    repo.stargazers_count += 4
    repo.releases.append(
        GhRelease("v3.0.0", at("2026-11-22T09:00:00Z"), at("2026-11-22T09:30:00Z"))
    )
    repo.pushed_at = at("2026-11-22T09:00:00Z")
    fake.log.clear()

    second = run_tracker(
        ["--log-level", "info", "collect", "-s", "github", "--tool", "sacred"], env
    )

    assert second.returncode == 0, second.stderr
    assert "catalog says IDSIA/sacred, GitHub says sacred-org/sacred: update the catalog" in (
        second.stderr
    )
    if mode == "rest":
        moved = fake.log.find(source="github", path=r"^/repos/IDSIA/sacred")
        assert moved and all(r.status == 301 for r in moved)
        assert fake.log.count(source="github", path=rf"^/repositories/{old_id}$") == 1
    assert_github_exact(db, repos)
    # one tool id, one name: the earlier rows moved to the current name
    for table, col in (
        ("star_history", "repo"),
        ("releases", "project"),
        ("repo_identities", "full_name"),
    ):
        assert query(db, f"SELECT DISTINCT tool_id, {col} FROM {table} WHERE tool_id='sacred'") == [
            ("sacred", "sacred-org/sacred")
        ], table
    # snapshots are observations: each keeps the name the repo had when it was taken
    assert query(db, "SELECT tool_id, repo FROM repo_snapshots ORDER BY observed_at") == [
        ("sacred", "IDSIA/sacred"),
        ("sacred", "sacred-org/sacred"),
    ]
    assert query(db, "SELECT repo_id, catalog_name FROM repo_identities") == [
        (old_id, "IDSIA/sacred")
    ]


def test_graphql_not_found_alias_costs_only_that_tool(
    fake: FakeUpstream, e2e_env: dict[str, str]
) -> None:
    repos = serve_github(fake, ["sacred", "mlflow", "kedro"])  # treeverse/dvc does not exist
    env = _with_token(e2e_env, "ghp_e2e_token")

    done = run_tracker(["collect", "-s", "github", *_tool_args(list(GH))], env)

    assert done.returncode == 1
    assert "github: partial, 3 tools stored, 1 failed" in done.stdout
    db = _db(env)
    assert_github_exact(db, repos)
    assert query(db, "SELECT tool_id, error FROM run_errors") == [
        (
            "dvc",
            "repo treeverse/dvc not found or not readable (GraphQL NOT_FOUND: Could not resolve "
            "to a Repository with the name 'treeverse/dvc'.)",
        )
    ]
    assert fake.log.count(source="github", path="^/graphql$") == 1  # one batch for all four
    assert fake.log.count(source="github", path="iterative") == 0  # no REST fallback for it


def test_star_history_pages_until_an_empty_page_then_only_the_new_ones(
    fake: FakeUpstream, e2e_env: dict[str, str]
) -> None:
    repo = gh_repo(fake, "sacred", "IDSIA/sacred", weeks=95)  # 30+30+30+5, then []
    fake.github.star_empty_last_page = True
    first = run_tracker(["collect", "-s", "github", "--tool", "sacred"], e2e_env)

    assert first.returncode == 0, first.stderr
    pages = [
        parse_qs(r.query).get("page", ["1"])[0]
        for r in fake.log.find(source="github", path="/stargazers/history$")
    ]
    assert pages == ["1", "2", "3", "4", "5"]
    db = _db(e2e_env)
    assert_github_exact(db, {"sacred": repo})
    assert len(got_weeks(db)) == 95

    # two new weeks, and the newest stored week (still open then) grew
    newest = repo.star_weeks[0]
    repo.star_weeks[0] = StarWeek(newest.week, (*newest.days[:6], newest.days[6] + 5))
    repo.star_weeks += [
        StarWeek(NEWEST_WEEK + timedelta(weeks=i), (1, 1, 1, 1, 1, 1, i)) for i in (1, 2)
    ]
    repo.stargazers_count = sum(w.total for w in repo.star_weeks)
    fake.log.clear()

    second = run_tracker(["collect", "-s", "github", "--tool", "sacred"], e2e_env)

    assert second.returncode == 0, second.stderr
    assert_github_exact(db, {"sacred": repo})
    assert len(got_weeks(db)) == 97
    history = fake.log.find(source="github", path="/stargazers/history$")
    assert [(r.query, r.status) for r in history] == [("per_page=30", 200)]  # one page enough


# ---- GitHub: SIGKILL mid-source -------------------------------------------------------------


def test_sigkill_during_github_leaves_each_tool_all_or_nothing(
    fake: FakeUpstream, e2e_env: dict[str, str], spawn: SpawnFn
) -> None:
    tools = list(GH)
    repos = serve_github(fake, tools)
    # mlflow's last request: its snapshot and releases are read, held in memory, not stored
    gate = fake.faults.add(
        r"^/repos/mlflow/mlflow/stargazers/history$", Fault("block"), source="github"
    )
    proc = spawn(["--log-level", "info", "collect", "-s", "github", *_tool_args(tools)], e2e_env)
    assert gate.arrived.wait(60), proc.stderr
    proc.wait_for_stderr(lambda err: _stored_lines(err) == {"sacred", "dvc"})

    proc.proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    gate.release.set()

    db = _db(e2e_env)
    done = {k: repos[k] for k in ("sacred", "dvc")}
    assert got_snapshots(db) == exp_snapshots(done)
    assert got_weeks(db) == exp_weeks(done)
    assert got_gh_releases(db) == exp_gh_releases(done)
    assert got_identities(db) == exp_identities(done)
    assert query(db, "SELECT count(*) FROM http_cache WHERE url LIKE '%mlflow%'") == [(0,)]
    assert query(db, "SELECT source, status FROM runs") == [("github", "running")]

    again = run_tracker(["collect", "-s", "github", *_tool_args(tools)], e2e_env)

    assert again.returncode == 0, again.stderr
    assert_github_exact(db, repos)
    assert query(db, "SELECT status FROM runs ORDER BY run_id") == [("interrupted",), ("ok",)]


# ---- pypistats, ClickPy, Apache -------------------------------------------------------------


def _daily(package: str, n: int = 12) -> dict[date, int]:
    h = _h(package)
    return {date(2026, 10, 1) + timedelta(days=i): (h >> i) % 5000 + i for i in range(n)}


def _downloads(db: Path, source: str) -> set[tuple[object, ...]]:
    return query_distinct(
        db,
        "SELECT tool_id, package, day, downloads FROM downloads_daily WHERE source = ?",
        [source],
    )


def _exp_downloads(tool: str, package: str, daily: Mapping[date, int]) -> set[tuple[object, ...]]:
    return {(tool, package, d, n) for d, n in daily.items()}


def test_pypistats_429_html_then_success_unknown_package_and_empty_data(
    fake: FakeUpstream, e2e_env: dict[str, str]
) -> None:
    sacred = _daily("sacred")
    fake.pypistats.add_package("sacred", sacred)
    fake.pypistats.add_package("mlflow", {})  # known, but no data
    fake.faults.add(
        r"^/api/packages/sacred/overall",
        Fault.error(
            429,
            "<html><body><h1>429 Too Many Requests</h1></body></html>",
            headers={"Retry-After": "1"},
        ),
        source="pypistats",
    )

    done, db = _collect_partial("pypistats", e2e_env)

    assert _downloads(db, "pypistats") == _exp_downloads("sacred", "sacred", sacred)
    errors = query(db, "SELECT tool_id, error FROM run_errors")
    assert len(errors) == 1 and errors[0][0] == "dvc"
    assert errors[0][1].startswith(f"pypistats: HTTP 404 from {fake.url('pypistats')}")
    assert errors[0][1].endswith(
        "/dvc/overall?mirrors=false: unknown package or no downloads for 'dvc'"
    )
    assert "mlflow: pypistats has no download data (nothing stored)" in done.stderr
    statuses = [(r.path, r.status) for r in fake.log.find(source="pypistats")]
    assert statuses == [
        ("/api/packages/sacred/overall", 429),
        ("/api/packages/sacred/overall", 200),
        ("/api/packages/dvc/overall", 404),
        ("/api/packages/mlflow/overall", 200),
    ]


def test_pypistats_urls_in_errors_and_cache_are_well_formed(
    fake: FakeUpstream, e2e_env: dict[str, str]
) -> None:
    fake.pypistats.add_package("sacred", _daily("sacred"))

    done = run_tracker(["collect", "-s", "pypistats", "--tool", "sacred", "--tool", "dvc"], e2e_env)

    assert done.returncode == 1
    db = _db(e2e_env)
    base = fake.url("pypistats")
    assert query(db, "SELECT url FROM http_cache") == [
        (f"{base}/api/packages/sacred/overall?mirrors=false",)
    ]
    assert query(db, "SELECT error FROM run_errors") == [
        (
            f"pypistats: HTTP 404 from {base}/api/packages/dvc/overall?mirrors=false: "
            "unknown package or no downloads for 'dvc'",
        )
    ]


def test_clickhouse_exception_after_200_fails_that_tool_only_and_names_travel_as_params(
    fake: FakeUpstream, e2e_env: dict[str, str]
) -> None:
    from tracker.collectors.clickpy import DOWNLOADS_SQL

    data = {p: _daily(p, 20) for p in ("sacred", "dvc", "mlflow")}
    for package, daily in data.items():
        fake.clickhouse.add_project(package, daily)
    fake.clickhouse.error_after_rows = 2
    fake.clickhouse.error_projects = {"dvc"}

    _, db = _collect_partial("clickpy", e2e_env)

    assert _downloads(db, "clickpy") == _exp_downloads(
        "sacred", "sacred", data["sacred"]
    ) | _exp_downloads("mlflow", "mlflow", data["mlflow"])
    errors = query(db, "SELECT tool_id, error FROM run_errors")
    assert errors == [
        (
            "dvc",
            f"clickpy: HTTP 200 from {fake.url('clickpy')}: query failed after 2 rows: "
            "Code: 241. DB::Exception: Memory limit (for query) exceeded. "
            "(MEMORY_LIMIT_EXCEEDED) (version 25.8.1.1)",
        )
    ]
    # the SQL text is the same constant for every package: names are URL parameters only
    assert fake.clickhouse.queries == [DOWNLOADS_SQL] * 3
    params = [parse_qs(r.query) for r in fake.log.find(source="clickpy")]
    assert [p["param_name"] for p in params] == [["sacred"], ["dvc"], ["mlflow"]]
    assert all(p["user"] == ["demo"] and p["param_since"] == ["1970-01-01"] for p in params)


def test_clickpy_asks_as_play_once_demo_is_refused_and_says_so(
    fake: FakeUpstream, e2e_env: dict[str, str]
) -> None:
    data = {p: _daily(p, 5) for p in ("sacred", "dvc")}
    for package, daily in data.items():
        fake.clickhouse.add_project(package, daily)
    fake.clickhouse.users = {"play"}  # the host of an older ClickPy setup

    done = run_tracker(
        ["--log-level", "info", "collect", "-s", "clickpy", "--tool", "sacred", "--tool", "dvc"],
        e2e_env,
    )

    assert done.returncode == 0, done.stderr
    assert "clickpy: user 'demo' refused (code 516); trying 'play'" in done.stderr
    assert "clickpy: querying as user 'play'" in done.stderr
    users = [parse_qs(r.query)["user"] for r in fake.log.find(source="clickpy")]
    assert users == [["demo"], ["play"], ["play"]]  # demo once per run, not once per package
    assert _downloads(_db(e2e_env), "clickpy") == _exp_downloads(
        "sacred", "sacred", data["sacred"]
    ) | _exp_downloads("dvc", "dvc", data["dvc"])


@pytest.mark.parametrize("style", ["table", "pre"])
def test_apache_listing_with_odd_entries(
    fake: FakeUpstream, e2e_env: dict[str, str], style: str
) -> None:
    fake.apache.style = style
    t = datetime(2021, 1, 4, 10, 30, tzinfo=UTC)
    fake.apache.add_project(
        "oozie",
        {
            "5.2.1": t,
            "oozie-3.3.2": t - timedelta(days=2000),
            "3.3.2": t - timedelta(days=1990),  # the same version twice: the earlier time wins
            "4.0.0-incubating": t - timedelta(days=1500),
            "5.3.0-rc1": t + timedelta(days=100),
            "helm-chart": t,
            "stable": t,
            "a&b<c>": t,
        },
        {"KEYS": t, "oozie-5.2.1.tar.gz": t, "README.html": t},
    )
    fake.apache.add_project("nifi", {"1.0.0": t})

    done = run_tracker(["collect", "-s", "apache", "--tool", "oozie", "--tool", "nifi"], e2e_env)

    assert done.returncode == 0, done.stderr
    assert "1 version(s) are not PEP 440" in done.stderr
    naive = t.replace(tzinfo=None)
    assert stored_releases(_db(e2e_env), "apache") == {
        ("oozie", "oozie", "5.2.1", naive, False, False, True),
        ("oozie", "oozie", "3.3.2", naive - timedelta(days=2000), False, False, True),
        ("oozie", "oozie", "4.0.0-incubating", naive - timedelta(days=1500), False, False, False),
        ("oozie", "oozie", "5.3.0-rc1", naive + timedelta(days=100), True, False, True),
        ("nifi", "nifi", "1.0.0", naive, False, False, True),
    }


# ---- one source down ------------------------------------------------------------------------


def test_one_source_down_the_other_four_are_stored_exactly(
    fake: FakeUpstream, e2e_env: dict[str, str]
) -> None:
    pypi_tools = {"sacred": ("sacred",)}
    serve_catalog(fake, pypi_tools)
    repos = {
        "sacred": gh_repo(fake, "sacred", "IDSIA/sacred"),
        "oozie": gh_repo(fake, "oozie", "apache/oozie"),
    }
    stats = _daily("sacred")
    fake.pypistats.add_package("sacred", stats)
    fake.clickhouse.add_project("sacred", _daily("sacred", 30))
    t = datetime(2021, 1, 4, 10, 30, tzinfo=UTC)
    fake.apache.add_project("oozie", {"5.2.1": t})
    fake.take_offline("clickpy")  # connection refused

    done = run_tracker(["collect", "--tool", "sacred", "--tool", "oozie"], e2e_env)

    assert done.returncode == 1
    for line in (
        "github: ok, 2 tools stored, 0 failed",
        "pypi: ok, 1 tool stored, 0 failed",
        "pypistats: ok, 1 tool stored, 0 failed",
        "clickpy: failed, 0 tools stored, 1 failed",
        "apache: ok, 1 tool stored, 0 failed",
    ):
        assert line in done.stdout, done.stdout
    db = _db(e2e_env)
    catalog = {"sacred": "IDSIA/sacred", "oozie": "apache/oozie"}
    assert got_snapshots(db) == exp_snapshots(repos)
    assert got_weeks(db) == exp_weeks(repos)
    assert got_gh_releases(db) == exp_gh_releases(repos)
    assert got_identities(db) == exp_identities(repos, catalog)
    assert stored_releases(db) == expected_releases(fake, pypi_tools)
    assert _downloads(db, "pypistats") == _exp_downloads("sacred", "sacred", stats)
    assert _downloads(db, "clickpy") == set()
    assert stored_releases(db, "apache") == {
        ("oozie", "oozie", "5.2.1", t.replace(tzinfo=None), False, False, True)
    }
    errors = query(db, "SELECT source, tool_id, error FROM run_errors")
    assert len(errors) == 1
    source, tool_id, error = errors[0]
    assert (source, tool_id) == ("clickpy", "sacred")
    assert error == (
        "not collected: clickpy unreachable (cannot connect: connection refused): "
        f"{fake.url('clickpy')}/?param_name=sacred"
    )
    runs = query(db, "SELECT source, status FROM runs ORDER BY run_id")
    assert runs == [
        ("github", "ok"),
        ("pypi", "ok"),
        ("pypistats", "ok"),
        ("clickpy", "failed"),
        ("apache", "ok"),
        ("hn", "ok"),
        ("stackoverflow", "ok"),
    ]
    # the demand sources ran too: no "Who is hiring?" thread in the fake (nothing stored, one
    # listing request); oozie's Stack Overflow tag counted for every complete month (0 here)
    assert "hn: ok, 2 tools stored, 0 failed, 0 rows, 1 request," in done.stdout
    months = query(
        db,
        "SELECT count(*), min(month), sum(mentions + total) FROM demand_monthly"
        " WHERE source = 'stackoverflow' AND tool_id = 'oozie'",
    )
    assert months[0][1:] == (date(2015, 1, 1), 0) and months[0][0] >= 142
    assert query(db, "SELECT count(*) FROM demand_monthly WHERE source = 'hn'") == [(0,)]


# ---- hostile upstream text ------------------------------------------------------------------

SCRIPT = "</script><script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
ODD = "\u202eevil\u202c e\u0301\u0301\u0301 \U0001f680\U0001f9e8 \u0000nul \ufeffzw\u200dj"


class _Collect(HTMLParser):
    """Every element with its attributes, and each script element's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data
        else:
            self.text.append(data)


def test_hostile_github_text_is_stored_intact_and_rendered_inert(
    fake: FakeUpstream, e2e_env: dict[str, str], tmp_path: Path
) -> None:
    repos = serve_github(fake, ["sacred", "dvc", "mlflow"])
    repos["sacred"].description = f"{SCRIPT} {IMG} {ODD}"
    repos["dvc"].description = "\u00e9" * 500_000 + IMG  # about 1 MB of UTF-8
    repos["mlflow"].description = None
    repos["sacred"].releases[0].name = SCRIPT
    repos["sacred"].releases[2].name = IMG + ODD
    repos["mlflow"].releases[0].name = "x" * 1_000_000
    tools = ["sacred", "dvc", "mlflow"]

    done = run_tracker(["collect", "-s", "github", *_tool_args(tools)], e2e_env)

    assert done.returncode == 0, done.stderr
    db = _db(e2e_env)
    assert_github_exact(db, repos)  # descriptions and titles compared exactly
    titles = dict(query(db, "SELECT version, title FROM releases WHERE tool_id = 'sacred'"))
    assert titles["v1.0.0"] == SCRIPT and titles["v1.1.0"] == IMG + ODD

    out = tmp_path / "rep"
    report = run_tracker(["report", "--out", str(out)], e2e_env)
    assert report.returncode == 0, report.stderr
    page = (out / "index.html").read_text(encoding="utf-8")
    parsed = _Collect()
    parsed.feed(page)
    parsed.close()
    assert not any(tag == "img" for tag, _ in parsed.tags)
    for _, attrs in parsed.tags:
        for name, value in attrs:
            assert not name.startswith("on"), name
            assert "alert(" not in (value or "")
    assert not any("alert(1)" in s for s in parsed.scripts)
    text = "".join(parsed.text)
    assert SCRIPT in text and IMG in text  # shown, as text
    assert "\u00e9" * 1000 in text
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "<script" not in summary and "<img" not in summary

    if shutil.which("chromium") and os.environ.get("TRACKER_E2E_BROWSER", "1") == "1":
        _assert_no_dialog(out / "index.html", tmp_path)


def _assert_no_dialog(index: Path, tmp_path: Path) -> None:
    from tests.reports.test_html_out import CHROMIUM_ARGS

    sync_api = pytest.importorskip("playwright.sync_api")
    dialogs: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=shutil.which("chromium"),
            args=CHROMIUM_ARGS,
            headless=True,
        )
        try:
            page = browser.new_page()

            def on_dialog(dialog: Any) -> None:
                dialogs.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", on_dialog)
            page.goto(index.as_uri(), wait_until="load")
            page.wait_for_timeout(300)  # give an injected handler its chance to fire
            images = page.eval_on_selector_all("img", "els => els.length")
        finally:
            browser.close()
    assert dialogs == []
    assert images == 0


# ---- the token, across every source ---------------------------------------------------------


def test_github_token_never_leaks_across_all_five_sources(
    fake: FakeUpstream, e2e_env: dict[str, str], tmp_path: Path
) -> None:
    sentinel = "ghp_sentinel_" + os.urandom(12).hex()
    fake.github.valid_tokens = {sentinel}  # anything else would answer 401
    serve_catalog(fake, {"sacred": ("sacred",)})
    gh_repo(fake, "sacred", "IDSIA/sacred")
    gh_repo(fake, "oozie", "apache/oozie")
    fake.pypistats.add_package("sacred", _daily("sacred"))
    fake.clickhouse.add_project("sacred", _daily("sacred"))
    fake.apache.add_project("oozie", {"5.2.1": datetime(2021, 1, 4, tzinfo=UTC)})
    # error paths log URLs and statuses: make some happen
    fake.faults.add(r"^/graphql$", Fault.html_error(502), source="github")
    fake.faults.add(r"/stargazers/history$", Fault.error(500, "oops"), source="github")
    fake.faults.add(r"^/api/packages/sacred/overall", Fault.error(503, "down"), source="pypistats")
    env = {**e2e_env, "GITHUB_TOKEN": sentinel}
    out_dir = tmp_path / "reports"
    tools = ["--tool", "sacred", "--tool", "oozie"]

    runs = [
        run_tracker(["--log-level", "debug", "--log-format", "json", "collect", *tools], env),
        run_tracker(["--log-level", "debug", "collect", "--json", "-s", "github", *tools], env),
        run_tracker(["--log-level", "debug", "report", "--out", str(out_dir)], env),
        run_tracker(["--log-level", "debug", "--log-format", "json", "status"], env),
        run_tracker(["--log-level", "debug", "status", "--json"], env),
    ]

    assert [r.returncode for r in runs] == [0, 0, 0, 0, 0], [r.stderr[-800:] for r in runs]
    for r in runs:
        assert sentinel not in r.stdout and sentinel not in r.stderr
    assert "HTTP 502" in runs[0].stderr or "502" in runs[0].stderr  # the logs did talk
    db = _db(env)
    files = [db, *db.parent.glob(db.name + ".*"), *out_dir.iterdir()]
    assert {f.name for f in files} >= {db.name, f"{db.name}.lock", "index.html", "summary.md"}
    for path in files:
        assert sentinel.encode() not in path.read_bytes(), path
    github = fake.log.find(source="github")
    assert github and all(r.had_token for r in github)
    for source in ("pypi", "pypistats", "clickpy", "apache", "hn", "stackoverflow"):
        seen = fake.log.find(source=source)
        assert seen, source
        assert not any(r.had_token or r.had_authorization for r in seen), source
    assert query(db, "SELECT DISTINCT source FROM runs ORDER BY 1") == [
        ("apache",),
        ("clickpy",),
        ("github",),
        ("hn",),
        ("pypi",),
        ("pypistats",),
        ("stackoverflow",),
    ]


# ---- parser crashes seen end to end (tracker bugs, see each parser's property tests) ---------


def test_hostile_star_history_page_fails_only_that_tool(
    fake: FakeUpstream, e2e_env: dict[str, str]
) -> None:
    repos = serve_github(fake, ["sacred", "dvc"])
    fake.faults.add(
        r"^/repos/IDSIA/sacred/stargazers/history$",
        Fault.error(200, [{"week": 10**20, "total": 1, "days": [1, 0, 0, 0, 0, 0, 0]}]),
        source="github",
    )

    done = run_tracker(["collect", "-s", "github", "--tool", "sacred", "--tool", "dvc"], e2e_env)

    assert done.returncode == 1
    db = _db(e2e_env)
    assert got_weeks(db) == exp_weeks({"dvc": repos["dvc"]})
    assert got_snapshots(db) == exp_snapshots(repos)  # sacred's snapshot survives the bad page
    errors = query(db, "SELECT tool_id, error FROM run_errors")
    assert [e[0] for e in errors] == ["sacred"]
    assert "star history" in errors[0][1] and "week" in errors[0][1]


def test_clickpy_unicode_digit_count_fails_only_that_tool(
    fake: FakeUpstream, e2e_env: dict[str, str]
) -> None:
    dvc = _daily("dvc")
    fake.clickhouse.add_project("dvc", dvc)
    fake.faults.add(
        r"param_name=sacred",
        Fault.error(
            200,
            '{"date": "2026-01-01", "downloads": "\u00b2"}\n',
            content_type="application/x-ndjson",
        ),
        source="clickpy",
    )

    done = run_tracker(["collect", "-s", "clickpy", "--tool", "sacred", "--tool", "dvc"], e2e_env)

    assert done.returncode == 1
    db = _db(e2e_env)
    assert _downloads(db, "clickpy") == _exp_downloads("dvc", "dvc", dvc)
    errors = query(db, "SELECT tool_id, error FROM run_errors")
    assert [e[0] for e in errors] == ["sacred"]
    assert "downloads" in errors[0][1]


def test_graphql_release_paging_beyond_one_page_on_an_enterprise_layout(
    fake: FakeUpstream, e2e_env: dict[str, str]
) -> None:
    repo = gh_repo(fake, "sacred", "IDSIA/sacred")
    start = at("2020-01-01T00:00:00Z")
    repo.releases = [
        GhRelease(f"v0.{i}.0", start + timedelta(days=i), start + timedelta(days=i, hours=1))
        for i in range(150)
    ]
    env = {**_with_token(e2e_env, "ghp_e2e_token"), **fake.env(github_enterprise=True)}

    done = run_tracker(["collect", "-s", "github", "--tool", "sacred"], env)

    assert done.returncode == 0, done.stderr
    assert_github_exact(_db(env), {"sacred": repo})
    assert len(got_gh_releases(_db(env))) == 150
    # the batch (first 100 releases) and one more page of releases, both on /api/graphql
    assert fake.log.count(source="github", path="^/api/graphql$") == 2
    assert fake.log.count(source="github", path="^/api/v3/repos/IDSIA/sacred/stargazers") == 1
