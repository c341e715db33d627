"""GitHub collector at the HTTP level, against a loopback GitHub-compatible server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.github.fake_server import (
    FakeGitHub,
    FakeRepo,
    Fault,
    make_release,
    make_weeks,
)
from tracker.catalog import Tool
from tracker.collectors.base import CollectContext
from tracker.collectors.github import (
    GithubCollector,
    parse_graphql_repo,
    parse_releases,
    parse_repo,
    parse_star_history,
    week_start_of,
)
from tracker.config import Settings
from tracker.errors import ParseError
from tracker.records import ToolBatch, ToolFailure, ToolOutcome

FIX = Path(__file__).parent.parent / "fixtures" / "github"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday
TOKEN = "ghp_SECRETtoken1234567890"
AIRFLOW = Tool("airflow", "Airflow", "orchestration", github="apache/airflow")


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    server = FakeGitHub().start()
    yield server
    server.stop()


def airflow(fake: FakeGitHub, **kw: Any) -> FakeRepo:
    weeks = make_weeks(date(2025, 1, 1), date(2026, 11, 22))
    defaults: dict[str, Any] = dict(
        repo_id=33884891,
        full_name="apache/airflow",
        created_at="2025-01-01T10:00:00Z",
        stars=sum(t for _, t in weeks),
        weeks=weeks,
        releases=[
            make_release("3.1.4rc1", "2026-11-18T10:05:00Z", pre=True),
            make_release("3.2.0", None, draft=True),
            make_release("3.1.3", "2026-11-10T12:30:00Z"),
        ],
    )
    defaults.update(kw)
    return fake.add(FakeRepo(**defaults))


def run(
    store: Any,
    fake: FakeGitHub,
    tools: list[Tool],
    *,
    token: str | None = None,
    now: datetime = NOW,
    sleeps: list[float] | None = None,
    **collector_kw: Any,
) -> tuple[list[ToolOutcome], int]:
    settings = Settings(
        github_token=token,
        github_api_url=fake.url,
        github_graphql_url=fake.graphql_url,
        http_retries=3,
    )
    ctx = CollectContext(
        settings=settings,
        state=store,
        sleep=(sleeps if sleeps is not None else []).append,
        now=lambda: now,
    )
    outcomes = list(GithubCollector(backoff_base=0.0, **collector_kw).collect(ctx, tools))
    for outcome in outcomes:
        if isinstance(outcome, ToolBatch):
            store.write_batch(outcome)
    assert [o.tool_id for o in outcomes] == [t.id for t in tools]
    return outcomes, ctx.requests.value


def rows(store: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in store.con.execute(sql).fetchall()]


# ---- parsers on real-shape payloads ----------------------------------------------------------


def test_parse_repo_fixture() -> None:
    info = parse_repo(json.loads((FIX / "repo_airflow.json").read_text()), url="u")
    assert (info.repo_id, info.full_name, info.stars, info.forks) == (
        33884891,
        "apache/airflow",
        42117,
        15601,
    )
    assert (info.open_issues, info.watchers, info.archived) == (1623, 767, False)
    assert info.created_at == datetime(2015, 4, 13, 18, 4, 58, tzinfo=UTC)


def test_parse_repo_rejects_missing_id() -> None:
    with pytest.raises(ParseError, match="'id'"):
        parse_repo({"full_name": "a/b"}, url="u")


def test_parse_releases_skips_drafts_and_keeps_prerelease_flag() -> None:
    items = json.loads((FIX / "releases_page.json").read_text())
    out = parse_releases(items, tool_id="airflow", project="apache/airflow", url="u")
    assert [(r.version, r.is_prerelease, r.title) for r in out] == [
        ("3.1.4rc1", True, "Apache Airflow 3.1.4rc1"),
        ("3.1.3", False, "Apache Airflow 3.1.3"),
        ("helm-chart/1.18.0", False, None),
    ]
    assert out[2].version_valid is False
    assert out[1].released_at == datetime(2025, 11, 10, 12, 30, tzinfo=UTC)


def test_parse_star_history_weeks_are_sunday_dates_and_may_be_negative() -> None:
    weeks = parse_star_history(json.loads((FIX / "star_history_page.json").read_text()), url="u")
    assert weeks == {
        date(2025, 11, 23): 37,
        date(2025, 11, 16): 112,
        date(2025, 11, 9): -3,
        date(2025, 11, 2): 0,
    }
    assert all(d.weekday() == 6 for d in weeks)
    with pytest.raises(ParseError, match=r"\[\]\.total"):
        parse_star_history([{"week": 1763856000}], url="u")


def test_parse_graphql_repo_fixture() -> None:
    body = json.loads((FIX / "graphql_partial.json").read_text())
    info = parse_graphql_repo(body["data"]["r0"], url="u")
    assert (info.repo_id, info.full_name, info.stars, info.open_issues, info.watchers) == (
        33884891,
        "apache/airflow",
        42117,
        1623,
        767,
    )


def test_week_start_of_is_sunday_utc() -> None:
    assert week_start_of(NOW) == date(2026, 11, 22)
    assert week_start_of(datetime(2026, 11, 22, 0, 0, tzinfo=UTC)) == date(2026, 11, 22)
    assert week_start_of(datetime(2026, 11, 21, 23, 59, tzinfo=UTC)) == date(2026, 11, 15)


# ---- REST without a token --------------------------------------------------------------------


def test_first_run_without_token_backfills_every_page_exactly(store: Any, fake: FakeGitHub) -> None:
    repo = airflow(fake)
    outcomes, requests = run(store, fake, [AIRFLOW])
    assert isinstance(outcomes[0], ToolBatch) and outcomes[0].errors == ()
    expected = sorted((datetime.fromtimestamp(w, UTC).date(), t) for w, t in repo.weeks)
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
    ) == [("apache/airflow", datetime(2026, 11, 25, 12), repo.stars, 10, 3, 7, False)]
    pages = -(-len(repo.weeks) // 30)
    assert len(fake.requests("GET", "/stargazers/history")) == pages
    assert requests == len(fake.log) == pages + 2  # repo + releases + history pages
    assert all(r["authorization"] is None for r in fake.log)
    assert all(r["user_agent"].startswith("tracker/") for r in fake.log)


def test_second_run_is_conditional_and_adds_no_duplicates(store: Any, fake: FakeGitHub) -> None:
    airflow(fake)
    run(store, fake, [AIRFLOW])
    before = len(fake.log)
    later = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
    outcomes, requests = run(store, fake, [AIRFLOW], now=later)
    assert isinstance(outcomes[0], ToolBatch) and outcomes[0].errors == ()
    new = fake.log[before:]
    # unchanged repo (304), lists read less than a week ago: one request
    assert requests == len(new) == 1
    assert all(r["if_none_match"] for r in new)
    # a week later the lists are re-read, conditionally (a release from an old tag moves no push)
    before = len(fake.log)
    _, requests = run(store, fake, [AIRFLOW], now=later + timedelta(days=8))
    new = fake.log[before:]
    assert requests == len(new) == 3
    assert all(r["if_none_match"] for r in new)
    assert sorted(r["path"].split("?")[0].rsplit("/", 1)[-1] for r in new) == [
        "airflow",
        "history",
        "releases",
    ]
    assert (
        rows(store, "SELECT count(*), count(DISTINCT week_start) FROM star_history")[0][0]
        == (rows(store, "SELECT count(DISTINCT week_start) FROM star_history")[0][0])
    )
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
    store: Any, fake: FakeGitHub
) -> None:
    repo = airflow(fake)
    run(store, fake, [AIRFLOW])
    # the open week grows and a new week starts
    newest_week, newest_total = repo.weeks[0]
    repo.weeks[0] = (newest_week, newest_total + 5)
    repo.weeks.insert(0, (newest_week + 7 * 86400, 4))
    repo.stars += 9
    before = len(fake.log)
    run(store, fake, [AIRFLOW], now=datetime(2026, 12, 1, tzinfo=UTC))
    history = fake.requests("GET", "/stargazers/history")
    assert [r["path"] for r in fake.log[before:] if "history" in r["path"]] == [
        "/api/v3/repos/apache/airflow/stargazers/history?per_page=30"
    ]
    assert len(history) > 1
    got = dict(rows(store, "SELECT week_start, stars_added FROM star_history"))
    assert got[datetime.fromtimestamp(newest_week, UTC).date()] == newest_total + 5
    assert got[date(2026, 11, 29)] == 4
    assert len(got) == len(repo.weeks)


def test_pagination_follows_link_until_empty_page(store: Any, fake: FakeGitHub) -> None:
    repo = airflow(fake, weeks=make_weeks(date(2026, 5, 3), date(2026, 11, 22)))
    assert len(repo.weeks) == 30
    fake.history_per_page = 15  # the server caps per_page below what was asked
    fake.link_past_end = True  # and links from the full last page to an empty one
    run(store, fake, [AIRFLOW])
    paths = [r["path"] for r in fake.requests("GET", "/stargazers/history")]
    assert len(paths) == 3
    assert "page=2" in paths[1] and "page=3" in paths[2]
    assert rows(store, "SELECT count(*) FROM star_history") == [(30,)]


def test_renamed_repo_follows_301_and_keeps_one_tool(store: Any, fake: FakeGitHub) -> None:
    airflow(fake)
    run(store, fake, [AIRFLOW])
    fake.rename(33884891, "apache/airflow-core")
    before = len(fake.log)
    outcomes, _ = run(store, fake, [AIRFLOW], now=datetime(2026, 11, 26, tzinfo=UTC))
    batch = outcomes[0]
    assert isinstance(batch, ToolBatch)
    assert batch.warnings == (
        "catalog says apache/airflow, GitHub says apache/airflow-core: update the catalog",
    )
    paths = [r["path"] for r in fake.log[before:]]
    assert paths[:2] == ["/api/v3/repos/apache/airflow", "/api/v3/repositories/33884891"]
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


def test_missing_repo_fails_only_that_tool(store: Any, fake: FakeGitHub) -> None:
    airflow(fake)
    missing = Tool("gone", "Gone", "orchestration", github="nobody/missing")
    outcomes, _ = run(store, fake, [missing, AIRFLOW])
    assert isinstance(outcomes[0], ToolFailure)
    assert "nobody/missing not found (HTTP 404" in outcomes[0].error
    assert isinstance(outcomes[1], ToolBatch)


# ---- faults ----------------------------------------------------------------------------------


def test_5xx_then_success_is_retried(store: Any, fake: FakeGitHub) -> None:
    airflow(fake)
    html = (FIX / "error_502.html").read_bytes()
    fake.fail(r"/repos/apache/airflow$", Fault(502, html, {"content-type": "text/html"}), times=2)
    sleeps: list[float] = []
    outcomes, requests = run(store, fake, [AIRFLOW], sleeps=sleeps)
    assert isinstance(outcomes[0], ToolBatch) and outcomes[0].errors == ()
    assert len(sleeps) == 2
    assert requests == len(fake.log)


def test_5xx_every_time_fails_the_tool_with_one_line(store: Any, fake: FakeGitHub) -> None:
    airflow(fake)
    html = (FIX / "error_502.html").read_bytes()
    fake.fail(r"/repos/apache/airflow$", Fault(502, html, {"content-type": "text/html"}), times=9)
    outcomes, requests = run(store, fake, [AIRFLOW])
    assert isinstance(outcomes[0], ToolFailure)
    assert outcomes[0].error.startswith("github: HTTP 502 from ")
    assert "HTML page instead of JSON (after 4 attempts)" in outcomes[0].error
    assert requests == 4


def test_truncated_body_is_retried(store: Any, fake: FakeGitHub) -> None:
    airflow(fake)
    fake.fail(r"/stargazers/history", Fault(200, b'[{"week": 1763856000, "tot', truncate=True))
    fake.fail(
        r"/releases", Fault(200, b'[{"tag_name": "1.0"', {"content-type": "application/json"})
    )
    outcomes, requests = run(store, fake, [AIRFLOW])
    assert isinstance(outcomes[0], ToolBatch) and outcomes[0].errors == ()
    assert rows(store, "SELECT count(*) FROM releases") == [(2,)]
    assert requests == len(fake.log)


def test_secondary_limit_403_honours_retry_after(store: Any, fake: FakeGitHub) -> None:
    airflow(fake)
    body = (FIX / "secondary_limit.json").read_bytes()
    fake.fail(
        r"/releases", Fault(403, body, {"retry-after": "37", "content-type": "application/json"})
    )
    sleeps: list[float] = []
    outcomes, _ = run(store, fake, [AIRFLOW], sleeps=sleeps)
    assert isinstance(outcomes[0], ToolBatch) and outcomes[0].errors == ()
    assert sleeps == [37.0]


def test_secondary_limit_without_retry_after_waits_a_minute(store: Any, fake: FakeGitHub) -> None:
    airflow(fake)
    body = (FIX / "secondary_limit.json").read_bytes()
    fake.fail(r"/releases", Fault(403, body, {"content-type": "application/json"}))
    sleeps: list[float] = []
    run(store, fake, [AIRFLOW], sleeps=sleeps)
    assert sleeps == [60.0]


def test_429_with_retry_after(store: Any, fake: FakeGitHub) -> None:
    airflow(fake)
    fake.fail(r"/repos/apache/airflow$", Fault(429, b"{}", {"retry-after": "5"}))
    sleeps: list[float] = []
    outcomes, _ = run(store, fake, [AIRFLOW], sleeps=sleeps)
    assert isinstance(outcomes[0], ToolBatch)
    assert sleeps == [5.0]


def _exhausted(reset: int) -> Fault:
    return Fault(
        403,
        (FIX / "primary_limit.json").read_bytes(),
        {
            "content-type": "application/json",
            "x-ratelimit-limit": "60",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "core",
        },
    )


def test_rate_limit_far_reset_stops_cleanly_and_lists_remaining_tools(
    store: Any, fake: FakeGitHub
) -> None:
    airflow(fake)
    fake.add(FakeRepo(2, "dagster-io/dagster", "2025-06-01T00:00:00Z", 5))
    dagster = Tool("dagster", "Dagster", "orchestration", github="dagster-io/dagster")
    reset = int(datetime(2026, 11, 25, 16, 0, tzinfo=UTC).timestamp())
    fake.fail(r"/repos/apache/airflow$", _exhausted(reset))
    sleeps: list[float] = []
    outcomes, requests = run(store, fake, [AIRFLOW, dagster], sleeps=sleeps)
    message = (
        "not collected: GitHub rate limit exhausted until 2026-11-25T16:00Z"
        " (x-ratelimit-reset); run again after that"
    )
    assert outcomes == [ToolFailure("airflow", message), ToolFailure("dagster", message)]
    assert sleeps == [] and requests == 1


def test_rate_limit_near_reset_waits_then_continues(store: Any, fake: FakeGitHub) -> None:
    airflow(fake)
    reset = int(NOW.timestamp()) + 120
    fake.fail(r"/repos/apache/airflow$", _exhausted(reset))
    sleeps: list[float] = []
    outcomes, _ = run(store, fake, [AIRFLOW], sleeps=sleeps)
    assert isinstance(outcomes[0], ToolBatch) and outcomes[0].errors == ()
    assert sleeps == [121.0]


def test_budget_seen_at_zero_stops_before_wasting_a_request(store: Any, fake: FakeGitHub) -> None:
    airflow(fake)
    fake.rate_remaining = 1  # the repo GET spends the last request
    fake.rate_reset = int(datetime(2026, 11, 25, 16, 0, tzinfo=UTC).timestamp())
    outcomes, requests = run(store, fake, [AIRFLOW])
    batch = outcomes[0]
    assert isinstance(batch, ToolBatch)  # the snapshot is kept, the rest is reported
    assert len(batch.snapshots) == 1 and batch.star_weeks == ()
    assert "rate limit exhausted until 2026-11-25T16:00Z" in batch.errors[0]
    assert requests == 1


# ---- star-history fallback -------------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 404, 410, 501])
def test_history_unavailable_falls_back_to_snapshots(
    store: Any, fake: FakeGitHub, status: int
) -> None:
    repo = airflow(fake, history_status=status, stars=100)
    first, _ = run(store, fake, [AIRFLOW], now=datetime(2026, 11, 19, tzinfo=UTC))
    assert isinstance(first[0], ToolBatch)
    assert first[0].star_weeks == ()
    assert (
        f"HTTP {status}" in first[0].errors[0] and "no snapshot-derived week" in first[0].errors[0]
    )
    repo.stars = 112
    second, _ = run(store, fake, [AIRFLOW], now=NOW)
    assert isinstance(second[0], ToolBatch)
    assert "source='snapshot'" in second[0].errors[0]
    repo.stars = 115
    run(store, fake, [AIRFLOW], now=datetime(2026, 11, 27, tzinfo=UTC))
    assert rows(store, "SELECT week_start, stars_added, source FROM star_history") == [
        (date(2026, 11, 22), 15, "snapshot")
    ]


def test_github_rows_replace_snapshot_rows_when_the_endpoint_appears(
    store: Any, fake: FakeGitHub
) -> None:
    repo = airflow(fake, history_status=404, stars=100)
    run(store, fake, [AIRFLOW], now=datetime(2026, 11, 19, tzinfo=UTC))
    repo.stars = 110
    run(store, fake, [AIRFLOW], now=NOW)
    assert rows(store, "SELECT source FROM star_history") == [("snapshot",)]
    repo.history_status = None
    run(store, fake, [AIRFLOW], now=datetime(2026, 11, 26, tzinfo=UTC))
    assert rows(store, "SELECT DISTINCT source FROM star_history") == [("github",)]
    assert rows(store, "SELECT count(*) FROM star_history") == [(len(repo.weeks),)]


# ---- GraphQL with a token --------------------------------------------------------------------


def test_graphql_batches_repos_and_a_not_found_alias_costs_only_that_repo(
    store: Any, fake: FakeGitHub
) -> None:
    airflow(fake)
    fake.add(FakeRepo(2, "dagster-io/dagster", "2025-06-01T00:00:00Z", 5))
    tools = [
        AIRFLOW,
        Tool("gone", "Gone", "orchestration", github="nobody/missing"),
        Tool("dagster", "Dagster", "orchestration", github="dagster-io/dagster"),
    ]
    outcomes, requests = run(store, fake, tools, token=TOKEN)
    assert isinstance(outcomes[0], ToolBatch) and isinstance(outcomes[2], ToolBatch)
    assert isinstance(outcomes[1], ToolFailure)
    assert "GraphQL NOT_FOUND" in outcomes[1].error
    assert len(fake.requests("POST", "/api/graphql")) == 1
    assert fake.requests("GET", "/repos/apache/airflow/releases") == []
    assert all(r["authorization"] == f"token {TOKEN}" for r in fake.log)
    assert rows(store, "SELECT tool_id, version, is_prerelease FROM releases ORDER BY 2") == [
        ("airflow", "3.1.3", False),
        ("airflow", "3.1.4rc1", True),
    ]
    assert rows(store, "SELECT tool_id, open_issues, watchers FROM repo_snapshots ORDER BY 1") == [
        ("airflow", 3, 7),
        ("dagster", 3, 7),
    ]
    assert requests == len(fake.log)


def test_graphql_pages_releases_beyond_100(store: Any, fake: FakeGitHub) -> None:
    releases = [
        make_release(f"1.{i}", f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z") for i in range(130)
    ]
    releases.reverse()
    airflow(fake, releases=releases)
    run(store, fake, [AIRFLOW], token=TOKEN)
    assert rows(store, "SELECT count(*) FROM releases") == [(130,)]
    assert len(fake.requests("POST", "/api/graphql")) == 2
    before = len(fake.log)
    run(store, fake, [AIRFLOW], token=TOKEN)  # incremental: the first 100 reach known ones
    assert len([r for r in fake.log[before:] if r["method"] == "POST"]) == 1
    assert rows(store, "SELECT count(*) FROM releases") == [(130,)]


def test_graphql_failure_falls_back_to_rest(store: Any, fake: FakeGitHub) -> None:
    airflow(fake)
    fake.fail(r"/api/graphql", Fault(502, b"<html>bad gateway</html>"), times=9)
    outcomes, _ = run(store, fake, [AIRFLOW], token=TOKEN)
    assert isinstance(outcomes[0], ToolBatch) and outcomes[0].errors == ()
    assert len(fake.requests("GET", "/repos/apache/airflow/releases")) == 1


def test_token_never_appears_in_outcomes_or_database(store: Any, fake: FakeGitHub) -> None:
    airflow(fake)
    fake.fail(r"/stargazers/history", Fault(500, b'{"message": "boom"}'), times=9)
    outcomes, _ = run(store, fake, [AIRFLOW], token=TOKEN)
    assert TOKEN not in repr(outcomes)
    dump = repr(
        [rows(store, f"SELECT * FROM {t}") for t in ("http_cache", "repo_identities", "releases")]
    )
    assert TOKEN not in dump
    settings = Settings(github_token=TOKEN)
    assert TOKEN not in repr(settings)
