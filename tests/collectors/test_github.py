"""GitHub collector at the HTTP level: respx serves the e2e GitHub emulator and recorded answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import respx

from tests.collectors._github_support import (
    API_URL,
    FIX,
    GRAPHQL_URL,
    RespxGitHub,
    fixture,
    headers_of,
    html_page,
    star_weeks,
)
from tests.e2e.fake_upstream import Budget, Fault, GhRelease, GhRepo, StarWeek, at
from tracker.catalog import Tool
from tracker.collectors.base import CollectContext
from tracker.collectors.github import (
    GithubCollector,
    nearest_sunday,
    parse_graphql_repo,
    parse_releases,
    parse_repo,
    parse_star_history,
    week_start_of,
)
from tracker.config import Settings
from tracker.errors import ParseError
from tracker.records import ToolBatch, ToolFailure, ToolOutcome

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday
TOKEN = "ghp_SECRETtoken1234567890"
AIRFLOW = Tool("airflow", "Airflow", "orchestration", github="apache/airflow")
DAGSTER = Tool("dagster", "Dagster", "orchestration", github="dagster-io/dagster")
HISTORY = r"/stargazers/history"


@pytest.fixture
def gh() -> Iterator[RespxGitHub]:
    with respx.mock(assert_all_called=False) as router:
        yield RespxGitHub(router)


def airflow(gh: RespxGitHub, **kw: Any) -> GhRepo:
    weeks = star_weeks(date(2025, 1, 1), date(2026, 11, 22))
    fields: dict[str, Any] = dict(
        id=33884891,
        created_at=at("2025-01-01T10:00:00Z"),
        pushed_at=at("2026-11-20T08:59:02Z"),
        stargazers_count=sum(w.total for w in weeks),
        forks_count=10,
        open_issues_count=3,
        subscribers_count=7,
        star_weeks=weeks,
        releases=[
            GhRelease("3.1.4rc1", at("2026-11-18T10:00:00Z"), at("2026-11-18T10:05:00Z"),
                      "Release 3.1.4rc1", prerelease=True),
            GhRelease("3.2.0", at("2026-11-19T00:00:00Z"), None, "draft", draft=True),
            GhRelease("3.1.3", at("2026-11-10T12:00:00Z"), at("2026-11-10T12:30:00Z"),
                      "Release 3.1.3"),
        ],
    )  # fmt: skip
    fields.update(kw)
    return gh.emulator.add_repo("apache/airflow", **fields)


def dagster(gh: RespxGitHub) -> GhRepo:
    return gh.emulator.add_repo(
        "dagster-io/dagster", id=2, created_at=at("2025-06-01T00:00:00Z"), stargazers_count=5,
        forks_count=10, open_issues_count=3, subscribers_count=7,
    )  # fmt: skip


def run(
    store: Any,
    gh: RespxGitHub,
    tools: list[Tool],
    *,
    token: str | None = None,
    now: datetime = NOW,
    sleeps: list[float] | None = None,
    **collector_kw: Any,
) -> tuple[list[ToolOutcome], int]:
    settings = Settings(
        github_token=token,
        github_api_url=API_URL,
        github_graphql_url=GRAPHQL_URL,
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


def clean(outcome: ToolOutcome) -> bool:
    return isinstance(outcome, ToolBatch) and outcome.errors == ()


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


# Sunday 2026-11-22 00:00 in UTC-8 is Sunday 08:00 UTC; in UTC+9 it is Saturday 15:00 UTC
WEST = int(datetime(2026, 11, 22, 8, 0, tzinfo=UTC).timestamp())
EAST = int(datetime(2026, 11, 21, 15, 0, tzinfo=UTC).timestamp())


def test_star_history_weeks_not_aligned_with_utc_land_on_the_nearest_sunday() -> None:
    assert nearest_sunday(datetime.fromtimestamp(WEST, UTC)) == date(2026, 11, 22)
    assert nearest_sunday(datetime.fromtimestamp(EAST, UTC)) == date(2026, 11, 22)
    page = [
        {"week": EAST, "total": 4, "days": [1, 1, 1, 1, 0, 0, 0]},
        {"week": EAST - 7 * 86400, "total": 2, "days": [2, 0, 0, 0, 0, 0, 0]},
    ]
    assert parse_star_history(page, url="u") == {date(2026, 11, 22): 4, date(2026, 11, 15): 2}
    west = [{"week": WEST, "total": 4, "days": [1, 1, 1, 1, 0, 0, 0]}]
    assert parse_star_history(west, url="u") == {date(2026, 11, 22): 4}


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


def test_pagination_follows_link_until_empty_page(store: Any, gh: RespxGitHub) -> None:
    repo = airflow(gh, star_weeks=star_weeks(date(2026, 5, 3), date(2026, 11, 22)))
    assert len(repo.star_weeks) == 30
    gh.emulator.star_per_page_max = 15  # the server caps per_page below what was asked
    gh.emulator.star_empty_last_page = True  # and links from the full last page to an empty one
    run(store, gh, [AIRFLOW])
    paths = [p for p in gh.paths() if "history" in p]
    assert len(paths) == 3
    assert "page=2" in paths[1] and "page=3" in paths[2]
    assert rows(store, "SELECT count(*) FROM star_history") == [(30,)]


def test_release_pages_follow_link_headers_of_recorded_answers(store: Any, gh: RespxGitHub) -> None:
    airflow(gh, releases=[])
    gh.fail(r"/releases\?per_page=100$", fixture("releases_linked_page1.json"))
    gh.fail(r"/repositories/33884891/releases\?.*page=2", fixture("releases_linked_page2.json"))
    outcomes, _ = run(store, gh, [AIRFLOW])
    assert clean(outcomes[0])
    assert rows(store, "SELECT version FROM releases ORDER BY released_at") == [
        ("2.0.0",),
        ("helm-chart/1.18.0",),
        ("3.1.3",),
        ("3.1.4rc1",),
    ]


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


def test_recorded_301_is_followed(store: Any, gh: RespxGitHub) -> None:
    airflow(gh)
    gh.fail(r"/repos/apache/airflow$", fixture("moved_301.json", repo_id=33884891))
    outcomes, requests = run(store, gh, [AIRFLOW])
    assert clean(outcomes[0])
    assert gh.paths()[:2] == ["/api/v3/repos/apache/airflow", "/api/v3/repositories/33884891"]
    assert requests == len(gh.calls)  # the hop is counted


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


def test_next_link_to_another_host_is_refused(store: Any, gh: RespxGitHub) -> None:
    airflow(gh)
    evil = Fault(
        "status", 200, b"[]", {"Content-Type": "application/json",
                              "Link": '<https://evil.test/steal?page=2>; rel="next"'},
    )  # fmt: skip
    gh.fail(HISTORY, evil)
    outcomes, _ = run(store, gh, [AIRFLOW])
    batch = outcomes[0]
    assert isinstance(batch, ToolBatch)
    assert "points to another host (evil.test)" in batch.errors[0]
    assert all(r.url.host == "github.test" for r in gh.calls)


# ---- faults ----------------------------------------------------------------------------------


def test_5xx_then_success_is_retried(store: Any, gh: RespxGitHub) -> None:
    airflow(gh)
    gh.fail(r"/repos/apache/airflow$", html_page(502), times=2)
    sleeps: list[float] = []
    outcomes, requests = run(store, gh, [AIRFLOW], sleeps=sleeps)
    assert clean(outcomes[0])
    assert len(sleeps) == 2
    assert requests == len(gh.calls)


def test_5xx_every_time_fails_the_tool_with_one_line(store: Any, gh: RespxGitHub) -> None:
    airflow(gh)
    gh.fail(r"/repos/apache/airflow$", html_page(502), times=9)
    outcomes, requests = run(store, gh, [AIRFLOW])
    assert isinstance(outcomes[0], ToolFailure)
    assert outcomes[0].error.startswith("github: HTTP 502 from ")
    assert "HTML page instead of JSON (after 4 attempts)" in outcomes[0].error
    assert requests == 4


def test_truncated_and_cut_bodies_are_retried(store: Any, gh: RespxGitHub) -> None:
    repo = airflow(gh)
    pages = -(-len(repo.star_weeks) // 30)
    gh.fail(HISTORY, Fault.truncate())
    gh.fail(r"/releases", Fault.cut_json())
    gh.fail(r"/repos/apache/airflow$", Fault.reset())
    outcomes, requests = run(store, gh, [AIRFLOW])
    assert clean(outcomes[0])
    assert rows(store, "SELECT count(*) FROM releases") == [(2,)]
    assert requests == len(gh.calls) == 2 + pages + 3  # one retry each


def test_secondary_limit_403_honours_retry_after(store: Any, gh: RespxGitHub) -> None:
    airflow(gh)
    gh.fail(r"/releases", fixture("secondary_limit_403.json"))
    sleeps: list[float] = []
    outcomes, _ = run(store, gh, [AIRFLOW], sleeps=sleeps)
    assert clean(outcomes[0])
    assert sleeps == [37.0]


def test_secondary_limit_without_retry_after_waits_a_minute(store: Any, gh: RespxGitHub) -> None:
    airflow(gh)
    gh.fail(r"/releases", fixture("secondary_limit_403.json", without=("retry-after",)))
    sleeps: list[float] = []
    outcomes, _ = run(store, gh, [AIRFLOW], sleeps=sleeps)
    assert clean(outcomes[0])
    assert sleeps == [60.0]


def test_429_with_retry_after(store: Any, gh: RespxGitHub) -> None:
    airflow(gh)
    gh.fail(r"/repos/apache/airflow$", fixture("secondary_limit_429.json"))
    sleeps: list[float] = []
    outcomes, _ = run(store, gh, [AIRFLOW], sleeps=sleeps)
    assert isinstance(outcomes[0], ToolBatch)
    assert sleeps == [5.0]


def test_secondary_limit_that_persists_stops_the_source(store: Any, gh: RespxGitHub) -> None:
    airflow(gh)
    dagster(gh)
    gh.fail(r"/repos/apache/airflow$", fixture("secondary_limit_429.json"), times=9)
    sleeps: list[float] = []
    outcomes, requests = run(store, gh, [AIRFLOW, DAGSTER], sleeps=sleeps)
    assert sleeps == [5.0, 5.0, 5.0] and requests == 4
    message = "not collected: GitHub secondary rate limit: retry after 2026-11-25T12:00Z;"
    assert [o.error.startswith(message) for o in outcomes if isinstance(o, ToolFailure)] == [
        True,
        True,
    ]


def test_rate_limit_far_reset_stops_cleanly_and_lists_remaining_tools(
    store: Any, gh: RespxGitHub
) -> None:
    airflow(gh)
    dagster(gh)
    reset = int(datetime(2026, 11, 25, 16, 0, tzinfo=UTC).timestamp())
    gh.fail(r"/repos/apache/airflow$", fixture("primary_limit_403.json", reset=reset))
    sleeps: list[float] = []
    outcomes, requests = run(store, gh, [AIRFLOW, DAGSTER], sleeps=sleeps)
    message = (
        "not collected: GitHub rate limit exhausted until 2026-11-25T16:00Z"
        " (x-ratelimit-reset); run again after that"
    )
    assert outcomes == [ToolFailure("airflow", message), ToolFailure("dagster", message)]
    assert sleeps == [] and requests == 1


def test_rate_limit_near_reset_waits_then_continues(store: Any, gh: RespxGitHub) -> None:
    airflow(gh)
    reset = int(NOW.timestamp()) + 120
    gh.fail(r"/repos/apache/airflow$", fixture("primary_limit_403.json", reset=reset))
    sleeps: list[float] = []
    outcomes, _ = run(store, gh, [AIRFLOW], sleeps=sleeps)
    assert clean(outcomes[0])
    assert sleeps == [121.0]


def test_budget_seen_at_zero_stops_before_wasting_a_request(store: Any, gh: RespxGitHub) -> None:
    airflow(gh)
    reset = int(datetime(2026, 11, 25, 16, 0, tzinfo=UTC).timestamp())
    gh.emulator.core_anonymous = Budget(60, 1, reset)  # the repo GET spends the last request
    outcomes, requests = run(store, gh, [AIRFLOW])
    batch = outcomes[0]
    assert isinstance(batch, ToolBatch)  # the snapshot is kept, the rest is reported
    assert len(batch.snapshots) == 1 and batch.star_weeks == ()
    assert "rate limit exhausted until 2026-11-25T16:00Z" in batch.errors[0]
    assert requests == 1


# ---- star-history fallback -------------------------------------------------------------------


def _unavailable(gh: RespxGitHub, status: int) -> None:
    body = (FIX / "not_found.json").read_bytes()
    gh.fail(HISTORY, Fault("status", status, body, {"Content-Type": "application/json"}))


@pytest.mark.parametrize("status", [403, 404, 410, 501])
def test_history_unavailable_falls_back_to_snapshots(
    store: Any, gh: RespxGitHub, status: int
) -> None:
    repo = airflow(gh, stargazers_count=100)
    _unavailable(gh, status)
    first, _ = run(store, gh, [AIRFLOW], now=datetime(2026, 11, 19, tzinfo=UTC))
    assert isinstance(first[0], ToolBatch)
    assert first[0].star_weeks == ()
    assert f"HTTP {status}" in first[0].errors[0]
    assert "no snapshot-derived week" in first[0].errors[0]
    repo.stargazers_count = 112
    _unavailable(gh, status)
    second, _ = run(store, gh, [AIRFLOW], now=NOW)
    assert isinstance(second[0], ToolBatch)
    assert "source='snapshot'" in second[0].errors[0]
    repo.stargazers_count = 115
    _unavailable(gh, status)
    run(store, gh, [AIRFLOW], now=datetime(2026, 11, 27, tzinfo=UTC))
    assert rows(store, "SELECT week_start, stars_added, source FROM star_history") == [
        (date(2026, 11, 22), 15, "snapshot")
    ]


def test_github_rows_replace_snapshot_rows_when_the_endpoint_appears(
    store: Any, gh: RespxGitHub
) -> None:
    repo = airflow(gh, stargazers_count=100)
    _unavailable(gh, 404)
    run(store, gh, [AIRFLOW], now=datetime(2026, 11, 19, tzinfo=UTC))
    repo.stargazers_count = 110
    _unavailable(gh, 404)
    run(store, gh, [AIRFLOW], now=NOW)
    assert rows(store, "SELECT source FROM star_history") == [("snapshot",)]
    run(store, gh, [AIRFLOW], now=datetime(2026, 11, 26, tzinfo=UTC))
    assert rows(store, "SELECT DISTINCT source FROM star_history") == [("github",)]
    assert rows(store, "SELECT count(*) FROM star_history") == [(len(repo.star_weeks),)]


@pytest.mark.parametrize("week", [WEST, EAST], ids=["utc-8", "utc+9"])
def test_api_weeks_off_utc_replace_the_snapshot_row_of_the_same_sunday(
    store: Any, gh: RespxGitHub, week: int
) -> None:
    repo = airflow(gh, stargazers_count=100)
    _unavailable(gh, 404)
    run(store, gh, [AIRFLOW], now=datetime(2026, 11, 19, tzinfo=UTC))
    repo.stargazers_count = 110
    _unavailable(gh, 404)
    run(store, gh, [AIRFLOW], now=NOW)
    assert rows(store, "SELECT week_start, source FROM star_history") == [
        (date(2026, 11, 22), "snapshot")
    ]
    page = [{"week": week - i * 7 * 86400, "total": 5 - i, "days": [0] * 7} for i in range(3)]
    gh.fail(HISTORY, Fault("status", 200, json.dumps(page).encode(),
                           {"Content-Type": "application/json"}))  # fmt: skip
    run(store, gh, [AIRFLOW], now=datetime(2026, 11, 26, tzinfo=UTC))
    assert rows(store, "SELECT week_start, stars_added, source FROM star_history ORDER BY 1") == [
        (date(2026, 11, 8), 3, "github"),
        (date(2026, 11, 15), 4, "github"),
        (date(2026, 11, 22), 5, "github"),
    ]


# ---- releases ordered by creation, not publication (issue 15 item 10) ------------------------


def _many_releases(n: int, newest: datetime) -> list[GhRelease]:
    """``n`` releases a day apart up to ``newest``, each published ten minutes after creation."""
    out = []
    for i in range(n):
        made = newest - timedelta(days=i)
        out.append(GhRelease(f"1.{n - i}", made, made + timedelta(minutes=10), f"1.{n - i}"))
    return out


def _old_commit_published_today() -> GhRelease:
    # tagged months ago, published after the last run: sorts below a hundred newer releases
    return GhRelease("0.9-lts", at("2026-03-02T09:00:00Z"), at("2026-12-02T09:00:00Z"), "LTS")


def test_rest_release_published_today_for_an_old_commit_is_not_missed(
    store: Any, gh: RespxGitHub
) -> None:
    repo = airflow(gh, releases=_many_releases(120, at("2026-11-20T09:00:00Z")))
    run(store, gh, [AIRFLOW])
    assert rows(store, "SELECT count(*) FROM releases") == [(120,)]
    repo.releases.append(_old_commit_published_today())
    before = len(gh.calls)
    later = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # the weekly re-read of an unchanged repo
    outcomes, _ = run(store, gh, [AIRFLOW], now=later)
    assert clean(outcomes[0])
    assert [p for p in gh.paths(before) if "/releases" in p] == [
        "/api/v3/repos/apache/airflow/releases?per_page=100",
        "/api/v3/repos/apache/airflow/releases?per_page=100&page=2",
    ]
    assert rows(store, "SELECT version, released_at FROM releases WHERE version = '0.9-lts'") == [
        ("0.9-lts", datetime(2026, 12, 2, 9, 0))
    ]


def test_graphql_release_published_today_for_an_old_commit_is_not_missed(
    store: Any, gh: RespxGitHub
) -> None:
    repo = airflow(gh, releases=_many_releases(120, at("2026-11-20T09:00:00Z")))
    run(store, gh, [AIRFLOW], token=TOKEN)
    assert rows(store, "SELECT count(*) FROM releases") == [(120,)]
    repo.releases.append(_old_commit_published_today())
    before = len(gh.calls)
    run(store, gh, [AIRFLOW], token=TOKEN, now=datetime(2026, 12, 2, 10, 0, tzinfo=UTC))
    assert len([r for r in gh.calls[before:] if r.method == "POST"]) == 2
    assert rows(store, "SELECT count(*) FROM releases WHERE version = '0.9-lts'") == [(1,)]


def test_graphql_pages_releases_beyond_100_then_stops_at_old_ones(
    store: Any, gh: RespxGitHub
) -> None:
    # created more than RELEASE_MARGIN before the newest publication: one page is enough later
    releases = _many_releases(30, at("2026-11-20T09:00:00Z"))
    releases += _many_releases(100, at("2024-06-01T00:00:00Z"))
    for i, r in enumerate(releases[30:]):
        r.tag_name = f"0.{i}"
    airflow(gh, releases=releases)
    run(store, gh, [AIRFLOW], token=TOKEN)
    assert rows(store, "SELECT count(*) FROM releases") == [(130,)]
    assert len(gh.find("/api/graphql", "POST")) == 2
    before = len(gh.calls)
    run(store, gh, [AIRFLOW], token=TOKEN)  # incremental: the first page reaches old ones
    assert len([r for r in gh.calls[before:] if r.method == "POST"]) == 1
    assert rows(store, "SELECT count(*) FROM releases") == [(130,)]


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
