"""github/fetch.py and the shared HTTP policy: paging, redirects, retries, rate limits."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from fakes import Budget, Fault
from tests.collectors.github._support import (
    AIRFLOW,
    DAGSTER,
    HISTORY,
    NOW,
    RespxGitHub,
    airflow,
    clean,
    dagster,
    fixture,
    html_page,
    rows,
    run,
    star_weeks,
)
from tracker.records import ToolBatch, ToolFailure


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


def test_recorded_301_is_followed(store: Any, gh: RespxGitHub) -> None:
    airflow(gh)
    gh.fail(r"/repos/apache/airflow$", fixture("moved_301.json", repo_id=33884891))
    outcomes, requests = run(store, gh, [AIRFLOW])
    assert clean(outcomes[0])
    assert gh.paths()[:2] == ["/api/v3/repos/apache/airflow", "/api/v3/repositories/33884891"]
    assert requests == len(gh.calls)  # the hop is counted


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
    gh.fail(HISTORY, Fault("truncate"))
    gh.fail(r"/releases", Fault("cut_json"))
    gh.fail(r"/repos/apache/airflow$", Fault("reset"))
    outcomes, requests = run(store, gh, [AIRFLOW])
    assert clean(outcomes[0])
    assert rows(store, "SELECT count(*) FROM releases") == [(2,)]
    assert requests == len(gh.calls) == 2 + pages + 3  # one retry each


@pytest.mark.parametrize(
    ("without", "waited"),
    [
        pytest.param((), 37.0, id="honours-retry-after"),
        pytest.param(("retry-after",), 60.0, id="without-retry-after-waits-a-minute"),
    ],
)
def test_secondary_limit_403_waits(
    store: Any, gh: RespxGitHub, without: tuple[str, ...], waited: float
) -> None:
    airflow(gh)
    gh.fail(r"/releases", fixture("secondary_limit_403.json", without=without))
    sleeps: list[float] = []
    outcomes, _ = run(store, gh, [AIRFLOW], sleeps=sleeps)
    assert clean(outcomes[0])
    assert sleeps == [waited]


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
