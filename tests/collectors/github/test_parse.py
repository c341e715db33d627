"""github/parse.py on real-shape payloads (tests/fixtures/github/)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from tests.collectors.github._support import (
    EAST,
    FIX,
    NOW,
    WEST,
)
from tracker.collectors.github import (
    nearest_sunday,
    parse_graphql_repo,
    parse_releases,
    parse_repo,
    parse_star_history,
    week_start_of,
)
from tracker.errors import ParseError

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
