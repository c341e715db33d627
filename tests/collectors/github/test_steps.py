"""github/steps.py: star-history fallback and weeks off UTC, releases ordered by creation."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from fakes import Fault, GhRelease, GhRepo, at
from tests.collectors.github._support import (
    AIRFLOW,
    EAST,
    FIX,
    HISTORY,
    NOW,
    TOKEN,
    WEST,
    RespxGitHub,
    airflow,
    clean,
    rows,
    run,
)
from tracker.records import ToolBatch

# ---- star-history fallback -------------------------------------------------------------------


def _unavailable(gh: RespxGitHub, status: int) -> None:
    body = (FIX / "not_found.json").read_bytes()
    gh.fail(HISTORY, Fault("status", status, body, {"Content-Type": "application/json"}))


def _snapshot_row_stored(store: Any, gh: RespxGitHub) -> GhRepo:
    """Two runs a week apart without the endpoint: a snapshot row for the week of 2026-11-22."""
    repo = airflow(gh, stargazers_count=100)
    _unavailable(gh, 404)
    run(store, gh, [AIRFLOW], now=datetime(2026, 11, 19, tzinfo=UTC))
    repo.stargazers_count = 110
    _unavailable(gh, 404)
    run(store, gh, [AIRFLOW], now=NOW)
    return repo


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
    repo = _snapshot_row_stored(store, gh)
    assert rows(store, "SELECT source FROM star_history") == [("snapshot",)]
    run(store, gh, [AIRFLOW], now=datetime(2026, 11, 26, tzinfo=UTC))
    assert rows(store, "SELECT DISTINCT source FROM star_history") == [("github",)]
    assert rows(store, "SELECT count(*) FROM star_history") == [(len(repo.star_weeks),)]


@pytest.mark.parametrize("week", [WEST, EAST], ids=["utc-8", "utc+9"])
def test_api_weeks_off_utc_replace_the_snapshot_row_of_the_same_sunday(
    store: Any, gh: RespxGitHub, week: int
) -> None:
    _snapshot_row_stored(store, gh)
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
