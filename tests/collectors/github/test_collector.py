"""github/collector.py: runs over the emulator (REST and GraphQL), renames, isolation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from fakes import Budget, Fault, StarWeek
from tests.collectors.github._support import (
    AIRFLOW,
    DAGSTER,
    HISTORY,
    TOKEN,
    RespxGitHub,
    airflow,
    clean,
    dagster,
    headers_of,
    html_page,
    rows,
    run,
)
from tracker.catalog import Tool
from tracker.config import Settings
from tracker.records import ToolBatch, ToolFailure

# ---- REST without a token --------------------------------------------------------------------


def test_first_run_without_token_backfills_every_page_exactly(store: Any, gh: RespxGitHub) -> None:
    repo = airflow(gh)
    outcomes, requests = run(store, gh, [AIRFLOW])
    assert clean(outcomes[0])
    expected = sorted((w.week, w.total) for w in repo.star_weeks)
    assert (
        rows(store, "SELECT week_start, stars_added FROM star_history ORDER BY week_start")
        == expected
    )
    assert {r[0] for r in rows(store, "SELECT DISTINCT source FROM star_history")} == {"github"}
    assert rows(
        store,
        "SELECT project, version, released_at, is_prerelease, title FROM releases ORDER BY version",
    ) == [
        ("apache/airflow", "3.1.3", datetime(2026, 11, 10, 12, 30), False, "Release 3.1.3"),
        ("apache/airflow", "3.1.4rc1", datetime(2026, 11, 18, 10, 5), True, "Release 3.1.4rc1"),
    ]
    assert rows(
        store,
        "SELECT repo, observed_at, stars, forks, open_issues, watchers, archived FROM repo_snapshots",
    ) == [("apache/airflow", datetime(2026, 11, 25, 12), repo.stargazers_count, 10, 3, 7, False)]
    pages = -(-len(repo.star_weeks) // 30)
    assert len(gh.find(HISTORY)) == pages
    assert requests == len(gh.calls) == pages + 2  # repo + releases + history pages
    for request in gh.calls:
        headers = headers_of(request)
        assert "authorization" not in headers
        assert headers["user-agent"].startswith("tracker/")
        assert headers["accept"] == "application/vnd.github+json"
        assert headers["x-github-api-version"] == "2022-11-28"


def test_second_run_is_conditional_and_adds_no_duplicates(store: Any, gh: RespxGitHub) -> None:
    airflow(gh)
    run(store, gh, [AIRFLOW])
    before = len(gh.calls)
    later = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
    outcomes, requests = run(store, gh, [AIRFLOW], now=later)
    assert clean(outcomes[0])
    new = gh.calls[before:]
    # unchanged repo (304), lists read less than a week ago: one request
    assert requests == len(new) == 1
    assert headers_of(new[0]).get("if-none-match")
    # a week later the lists are re-read (a release from an old tag moves no push): the star
    # history conditionally, the releases' first page in full (item 10: ordered by creation)
    before = len(gh.calls)
    _, requests = run(store, gh, [AIRFLOW], now=later + timedelta(days=8))
    new = gh.calls[before:]
    assert requests == len(new) == 3
    conditional = {r.url.path.rsplit("/", 1)[-1]: "if-none-match" in headers_of(r) for r in new}
    assert conditional == {"airflow": True, "history": True, "releases": False}
    assert rows(store, "SELECT count(*) - count(DISTINCT week_start) FROM star_history") == [(0,)]
    assert rows(store, "SELECT count(*) FROM releases") == [(2,)]
    # a 304 confirms the counters: one more snapshot with the same values
    snaps = rows(store, "SELECT observed_at, stars FROM repo_snapshots ORDER BY observed_at")
    assert [s[0] for s in snaps] == [
        datetime(2026, 11, 25, 12),
        datetime(2026, 11, 25, 18),
        datetime(2026, 12, 3, 18),
    ]
    assert snaps[0][1] == snaps[1][1] == snaps[2][1]


def test_incremental_run_fetches_newest_page_and_replaces_open_week(
    store: Any, gh: RespxGitHub
) -> None:
    repo = airflow(gh)
    run(store, gh, [AIRFLOW])
    # the open week grows and a new week starts
    newest = max(repo.star_weeks, key=lambda w: w.week)
    repo.star_weeks.remove(newest)
    repo.star_weeks.append(StarWeek(newest.week, (newest.days[0] + 5, *newest.days[1:])))
    repo.star_weeks.append(StarWeek(newest.week + timedelta(days=7), (4, 0, 0, 0, 0, 0, 0)))
    repo.stargazers_count += 9
    before = len(gh.calls)
    run(store, gh, [AIRFLOW], now=datetime(2026, 12, 1, tzinfo=UTC))
    assert [p for p in gh.paths(before) if "history" in p] == [
        "/api/v3/repos/apache/airflow/stargazers/history?per_page=30"
    ]
    got = dict(rows(store, "SELECT week_start, stars_added FROM star_history"))
    assert got[newest.week] == newest.total + 5
    assert got[date(2026, 11, 29)] == 4
    assert len(got) == len(repo.star_weeks)


def test_renamed_repo_follows_301_and_keeps_one_tool(store: Any, gh: RespxGitHub) -> None:
    airflow(gh)
    run(store, gh, [AIRFLOW])
    gh.emulator.rename("apache/airflow", "apache/airflow-core")
    before = len(gh.calls)
    outcomes, _ = run(store, gh, [AIRFLOW], now=datetime(2026, 11, 26, tzinfo=UTC))
    batch = outcomes[0]
    assert isinstance(batch, ToolBatch)
    assert batch.warnings == (
        "catalog says apache/airflow, GitHub says apache/airflow-core: update the catalog",
    )
    assert gh.paths(before)[:2] == ["/api/v3/repos/apache/airflow", "/api/v3/repositories/33884891"]
    assert rows(store, "SELECT DISTINCT repo FROM star_history") == [("apache/airflow-core",)]
    assert rows(store, "SELECT DISTINCT project FROM releases") == [("apache/airflow-core",)]
    assert rows(store, "SELECT count(*) FROM releases") == [(2,)]
    assert rows(store, "SELECT repo_id, full_name, catalog_name FROM repo_identities") == [
        (33884891, "apache/airflow-core", "apache/airflow")
    ]
    assert rows(store, "SELECT repo FROM repo_snapshots ORDER BY observed_at") == [
        ("apache/airflow",),
        ("apache/airflow-core",),
    ]


def test_missing_repo_fails_only_that_tool(store: Any, gh: RespxGitHub) -> None:
    airflow(gh)
    missing = Tool("gone", "Gone", "orchestration", github="nobody/missing")
    outcomes, _ = run(store, gh, [missing, AIRFLOW])
    assert isinstance(outcomes[0], ToolFailure)
    assert "nobody/missing not found (HTTP 404" in outcomes[0].error
    assert isinstance(outcomes[1], ToolBatch)


def test_unexpected_error_fails_only_that_tool(
    store: Any, gh: RespxGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker.collectors.github import parse

    airflow(gh)
    dagster(gh)
    real = parse.parse_repo

    def buggy(payload: object, *, url: str) -> Any:
        if "airflow" in url:
            raise KeyError("a parser bug")
        return real(payload, url=url)

    monkeypatch.setattr(parse, "parse_repo", buggy)
    outcomes, _ = run(store, gh, [AIRFLOW, DAGSTER])
    assert isinstance(outcomes[0], ToolFailure)
    assert outcomes[0].error.startswith("unexpected error: KeyError")
    assert clean(outcomes[1])


# ---- GraphQL with a token --------------------------------------------------------------------


def test_graphql_batches_repos_and_a_not_found_alias_costs_only_that_repo(
    store: Any, gh: RespxGitHub
) -> None:
    airflow(gh)
    dagster(gh)
    tools = [AIRFLOW, Tool("gone", "Gone", "orchestration", github="nobody/missing"), DAGSTER]
    outcomes, requests = run(store, gh, tools, token=TOKEN)
    assert isinstance(outcomes[0], ToolBatch) and isinstance(outcomes[2], ToolBatch)
    assert isinstance(outcomes[1], ToolFailure)
    assert "GraphQL NOT_FOUND" in outcomes[1].error
    assert len(gh.find("/api/graphql", "POST")) == 1
    assert gh.find("/repos/apache/airflow/releases") == []
    assert all(headers_of(r)["authorization"] == f"Bearer {TOKEN}" for r in gh.calls)
    assert rows(store, "SELECT tool_id, version, is_prerelease FROM releases ORDER BY 2") == [
        ("airflow", "3.1.3", False),
        ("airflow", "3.1.4rc1", True),
    ]
    assert rows(store, "SELECT tool_id, open_issues, watchers FROM repo_snapshots ORDER BY 1") == [
        ("airflow", 3, 7),
        ("dagster", 3, 7),
    ]
    assert requests == len(gh.calls)


def test_graphql_failure_falls_back_to_rest(store: Any, gh: RespxGitHub) -> None:
    airflow(gh)
    gh.fail(r"/api/graphql", html_page(502), times=9)
    outcomes, _ = run(store, gh, [AIRFLOW], token=TOKEN)
    assert clean(outcomes[0])
    assert len(gh.find("/repos/apache/airflow/releases")) == 1


def test_graphql_rate_limited_stops_the_source(store: Any, gh: RespxGitHub) -> None:
    airflow(gh)
    gh.emulator.graphql = Budget(
        5000, 0, int(datetime(2026, 11, 25, 13, 0, tzinfo=UTC).timestamp())
    )
    outcomes, _ = run(store, gh, [AIRFLOW], token=TOKEN)
    assert outcomes == [
        ToolFailure(
            "airflow",
            "not collected: GitHub GraphQL rate limit exhausted until 2026-11-25T13:00Z"
            " (x-ratelimit-reset); run again after that",
        )
    ]


def test_token_never_appears_in_outcomes_or_database(store: Any, gh: RespxGitHub) -> None:
    airflow(gh)
    gh.fail(HISTORY, Fault("status", 500, b'{"message": "boom"}', {}), times=9)
    outcomes, _ = run(store, gh, [AIRFLOW], token=TOKEN)
    assert TOKEN not in repr(outcomes)
    dump = repr(
        [rows(store, f"SELECT * FROM {t}") for t in ("http_cache", "repo_identities", "releases")]
    )
    assert TOKEN not in dump
    settings = Settings(github_token=TOKEN)
    assert TOKEN not in repr(settings)
