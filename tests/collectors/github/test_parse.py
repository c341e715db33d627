"""github/parse.py on real-shape payloads (tests/fixtures/github/)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.collectors.github._support import EAST, FIX, NOW, WEST
from tests.strategies import ANY_URL, FAST, crashes_cleanly, ints, json_values, parse_outcome
from tracker.collectors import github
from tracker.errors import ParseError, TrackerError
from tracker.records import ReleaseRecord

# ---- parsers on real-shape payloads ----------------------------------------------------------


def test_parse_repo_fixture() -> None:
    info = github.parse_repo(json.loads((FIX / "repo_airflow.json").read_text()), url="u")
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
        github.parse_repo({"full_name": "a/b"}, url="u")


def test_parse_releases_skips_drafts_and_keeps_prerelease_flag() -> None:
    items = json.loads((FIX / "releases_page.json").read_text())
    out = github.parse_releases(items, tool_id="airflow", project="apache/airflow", url="u")
    assert [(r.version, r.is_prerelease, r.title) for r in out] == [
        ("3.1.4rc1", True, "Apache Airflow 3.1.4rc1"),
        ("3.1.3", False, "Apache Airflow 3.1.3"),
        ("helm-chart/1.18.0", False, None),
    ]
    assert out[2].version_valid is False
    assert out[1].released_at == datetime(2025, 11, 10, 12, 30, tzinfo=UTC)


def test_parse_star_history_weeks_are_sunday_dates_and_may_be_negative() -> None:
    weeks = github.parse_star_history(
        json.loads((FIX / "star_history_page.json").read_text()), url="u"
    )
    assert weeks == {
        date(2025, 11, 23): 37,
        date(2025, 11, 16): 112,
        date(2025, 11, 9): -3,
        date(2025, 11, 2): 0,
    }
    assert all(d.weekday() == 6 for d in weeks)
    with pytest.raises(ParseError, match=r"\[\]\.total"):
        github.parse_star_history([{"week": 1763856000}], url="u")


def test_star_history_weeks_not_aligned_with_utc_land_on_the_nearest_sunday() -> None:
    assert github.nearest_sunday(datetime.fromtimestamp(WEST, UTC)) == date(2026, 11, 22)
    assert github.nearest_sunday(datetime.fromtimestamp(EAST, UTC)) == date(2026, 11, 22)
    page = [
        {"week": EAST, "total": 4, "days": [1, 1, 1, 1, 0, 0, 0]},
        {"week": EAST - 7 * 86400, "total": 2, "days": [2, 0, 0, 0, 0, 0, 0]},
    ]
    assert github.parse_star_history(page, url="u") == {
        date(2026, 11, 22): 4,
        date(2026, 11, 15): 2,
    }
    west = [{"week": WEST, "total": 4, "days": [1, 1, 1, 1, 0, 0, 0]}]
    assert github.parse_star_history(west, url="u") == {date(2026, 11, 22): 4}


def test_parse_graphql_repo_fixture() -> None:
    body = json.loads((FIX / "graphql_partial.json").read_text())
    info = github.parse_graphql_repo(body["data"]["r0"], url="u")
    assert (info.repo_id, info.full_name, info.stars, info.open_issues, info.watchers) == (
        33884891,
        "apache/airflow",
        42117,
        1623,
        767,
    )


def test_week_start_of_is_sunday_utc() -> None:
    assert github.week_start_of(NOW) == date(2026, 11, 22)
    assert github.week_start_of(datetime(2026, 11, 22, 0, 0, tzinfo=UTC)) == date(2026, 11, 22)
    assert github.week_start_of(datetime(2026, 11, 21, 23, 59, tzinfo=UTC)) == date(2026, 11, 15)


# ---- property tests: any input parses or raises a TrackerError ----------------------------------

# timestamps: real ones (Z or naive), near misses and junk; offsets at the edge of the datetime
# range (a fixed OverflowError) are pinned by test_github_time_offset_overflow below
times = st.one_of(
    st.none(),
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)).map(
        lambda d: d.isoformat() + "+05:30"
    ),
    st.sampled_from(["", "2024-13-01T00:00:00Z", "yesterday", "2024-02-30", "0000-00-00T00:00"]),
    st.text(max_size=30),
    ints,
)
tags = st.one_of(
    st.from_regex(r"\Av?[0-9]{1,4}(\.[0-9]{1,4}){0,3}((a|b|rc)[0-9]{1,2})?\Z"),
    st.text(max_size=40),
    st.sampled_from(["nightly", "", "\uff11.\uff10", "1.0\x00", "<script>alert(1)</script>"]),
)


repo_payloads = st.fixed_dictionaries(
    {},
    optional={
        "id": ints | json_values,
        "full_name": st.sampled_from(["a/b", "org/repo", "noslash", ""]) | json_values,
        "created_at": times,
        "pushed_at": times,
        "description": st.text() | json_values,
        "stargazers_count": ints | json_values,
        "forks_count": ints | json_values,
        "open_issues_count": ints,
        "subscribers_count": ints,
        "archived": json_values,
    },
)


def _info(parse: Callable[..., github.RepoInfo], payload: object) -> github.RepoInfo | None:
    """Parse ``payload``: the RepoInfo (only ever from a dict), None after a TrackerError."""
    out = parse_outcome(lambda: parse(payload, url=ANY_URL))
    if isinstance(out, TrackerError):
        return None
    assert isinstance(payload, dict)
    return out


@FAST
@given(st.one_of(json_values, repo_payloads))
def test_parse_repo_gives_info_or_tracker_error(payload: Any) -> None:
    out = _info(github.parse_repo, payload)
    if out is not None:
        assert out.repo_id == payload["id"] and out.full_name == payload["full_name"]
        assert out.description is None or out.description == payload.get("description")


count_nodes = st.fixed_dictionaries({"totalCount": ints | json_values}) | json_values
graphql_nodes = st.fixed_dictionaries(
    {},
    optional={
        "databaseId": ints | json_values,
        "nameWithOwner": st.sampled_from(["a/b", "x"]) | json_values,
        "description": st.text() | json_values,
        "createdAt": times,
        "pushedAt": times,
        "isArchived": json_values,
        "stargazerCount": ints | json_values,
        "forkCount": ints,
        "watchers": count_nodes,
        "issues": count_nodes,
        "pullRequests": count_nodes,
    },
)


@FAST
@given(st.one_of(json_values, graphql_nodes))
def test_parse_graphql_repo_gives_info_or_tracker_error(node: Any) -> None:
    out = _info(github.parse_graphql_repo, node)
    if out is not None:
        assert out.repo_id == node["databaseId"]
        if out.open_issues is not None:  # issues + pull requests, both known
            assert (
                out.open_issues
                == node["issues"]["totalCount"] + (node["pullRequests"]["totalCount"])
            )


def _release_items(graphql: bool) -> st.SearchStrategy[Any]:
    keys = (
        ("tagName", "publishedAt", "isPrerelease", "isDraft")
        if graphql
        else ("tag_name", "published_at", "prerelease", "draft")
    )
    item = st.fixed_dictionaries(
        {},
        optional={
            keys[0]: tags | json_values,
            keys[1]: times,
            keys[2]: json_values,
            keys[3]: json_values,
            "name": st.text() | json_values,
        },
    )
    return st.lists(item | json_values, max_size=5)


@FAST
@given(st.booleans().flatmap(lambda g: st.tuples(st.just(g), _release_items(g) | json_values)))
def test_parse_releases_gives_records_or_tracker_error(case: tuple[bool, object]) -> None:
    graphql, items = case
    out = parse_outcome(
        lambda: github.parse_releases(
            items, tool_id="t", project="o/r", url=ANY_URL, graphql=graphql
        )
    )
    if isinstance(out, list):
        assert all(isinstance(r, ReleaseRecord) for r in out)
        assert all(r.released_at is not None and r.released_at.tzinfo is not None for r in out)
        assert isinstance(items, list)
        draft = "isDraft" if graphql else "draft"
        assert len(out) <= sum(1 for i in items if isinstance(i, dict) and i.get(draft) is not True)


# week starts within the platform's time_t range (huge ones: see the edge tests below)
weeks = st.integers(min_value=-(2**35), max_value=2**37)
history_pages = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "week": weeks | json_values,
            "total": ints | json_values,
            "days": st.lists(ints, max_size=7),
        },
    )
    | json_values,
    max_size=6,
)


@FAST
@given(st.one_of(json_values, history_pages))
def test_parse_star_history_gives_weeks_or_tracker_error(payload: object) -> None:
    out = parse_outcome(lambda: github.parse_star_history(payload, url=ANY_URL))
    if isinstance(out, dict):
        assert all(isinstance(k, date) and isinstance(v, int) for k, v in out.items())


@FAST
@given(
    st.dictionaries(
        st.integers(min_value=0, max_value=3000).map(
            lambda i: date(2008, 1, 6) + timedelta(weeks=i)
        ),
        st.integers(min_value=-(10**6), max_value=10**9),
        max_size=40,
    )
)
def test_star_history_round_trip(expected: dict[date, int]) -> None:
    page = [
        {
            "week": int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()),
            "total": n,
            "days": [n, 0, 0, 0, 0, 0, 0],
        }
        for d, n in sorted(expected.items(), reverse=True)
    ]
    assert github.parse_star_history(page, url=ANY_URL) == expected


@pytest.mark.parametrize("week", [10**20, -(10**12), 2**63])
def test_star_history_week_out_of_range(week: int) -> None:
    crashes_cleanly(lambda: github.parse_star_history([{"week": week, "total": 1}], url=ANY_URL))


@pytest.mark.parametrize("field", ["created_at", "pushed_at"])
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_github_time_offset_overflow(field: str, value: str) -> None:
    crashes_cleanly(
        lambda: github.parse_repo({"id": 1, "full_name": "a/b", field: value}, url=ANY_URL)
    )


def test_github_release_tag_beyond_int_digit_limit() -> None:
    item = {"tag_name": "1" + "0" * 5000, "published_at": "2024-01-01T00:00:00Z"}
    crashes_cleanly(lambda: github.parse_releases([item], tool_id="t", project="o/r", url=ANY_URL))
