"""Property tests: every upstream parser gives records (or nothing) or a TrackerError, never a crash.

Covers the Apache listing parser, GitHub's REST repo / releases / star-history parsers, the
GraphQL repository parser, ClickPy's JSONEachRow parser and the pypistats payload parser, with
arbitrary JSON (or text) and with payload-shaped input. Inputs that crashed a parser (bugs 6-10
of docs/reliability.md, fixed) are pinned by the edge tests at the end.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakes import ApacheEmulator
from tests.e2e.strategies import FAST, json_values_of
from tracker.collectors import apache, clickpy, github, pypistats
from tracker.errors import TrackerError
from tracker.records import DownloadRecord, ReleaseRecord

URL = "https://upstream.test/x"
T = TypeVar("T")

# integers within the 64-bit range (huge ones are pinned in the edge tests below)
ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
json_values = json_values_of(ints)
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


def _outcome(call: Callable[[], T]) -> T | TrackerError:
    """Return the parser's result, or the TrackerError it raised (one line, not empty)."""
    try:
        return call()
    except TrackerError as exc:
        text = str(exc)
        assert text and "\n" not in text, repr(text)
        return exc


# ---- GitHub: repo, GraphQL node, releases, star history --------------------------------------

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


@FAST
@given(st.one_of(json_values, repo_payloads))
def test_parse_repo_gives_info_or_tracker_error(payload: object) -> None:
    out = _outcome(lambda: github.parse_repo(payload, url=URL))
    if isinstance(out, github.RepoInfo):
        assert isinstance(payload, dict)
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
def test_parse_graphql_repo_gives_info_or_tracker_error(node: object) -> None:
    out = _outcome(lambda: github.parse_graphql_repo(node, url=URL))
    if isinstance(out, github.RepoInfo):
        assert isinstance(node, dict) and out.repo_id == node["databaseId"]
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
    out = _outcome(
        lambda: github.parse_releases(items, tool_id="t", project="o/r", url=URL, graphql=graphql)
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
    out = _outcome(lambda: github.parse_star_history(payload, url=URL))
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
    assert github.parse_star_history(page, url=URL) == expected


# ---- Apache listings -------------------------------------------------------------------------

FRAGMENTS = [
    "<table>",
    "<tr>",
    "<td>",
    "</td>",
    "</tr>",
    "<pre>",
    "</pre>",
    '<a href="',
    '">',
    "</a>",
    "/",
    "5.2.1/",
    "oozie-3.3.2/",
    "?C=N;O=D",
    "../",
    "KEYS",
    " 2024-01-31 10:00 ",
    " 05-Mar-2021 10:32 ",
    " 2024-02-30 25:61 ",
    "\n",
    "<!--",
    "-->",
    "&amp;",
    "<img src=x onerror=alert(1)>",
]
html_ish = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=6), max_size=40).map("".join),
)


def _listing(html: str, project: str = "oozie") -> list[ReleaseRecord] | TrackerError:
    def run() -> list[ReleaseRecord]:
        entries = apache.parse_listing(html)
        return apache.parse_releases(entries, tool_id="t", project=project)

    return _outcome(run)


@FAST
@given(html_ish)
def test_apache_listing_of_any_text_gives_releases_or_tracker_error(html: str) -> None:
    out = _listing(html)
    if isinstance(out, list):
        assert all(isinstance(r, ReleaseRecord) and r.source == "apache" for r in out)
        assert len({r.version for r in out}) == len(out)


versions = st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{1,3}){0,2}(rc[0-9]|-incubating)?\Z")
minutes = st.datetimes(min_value=datetime(1995, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda d: d.replace(second=0, microsecond=0, tzinfo=UTC)
)
junk_names = st.text(min_size=1, max_size=20).filter(
    lambda n: (
        not n[0].isdigit()
        and not n.lower().startswith(("p-", "p_", "apache-p-"))
        and "/" not in n
        and n.strip() == n
    )
)


@FAST
@given(
    st.dictionaries(versions, minutes, max_size=8),
    st.dictionaries(junk_names, minutes, max_size=5),
    st.dictionaries(junk_names, minutes, max_size=5),
    st.sampled_from(["table", "pre"]),
)
def test_apache_structured_listing_gives_exactly_its_version_directories(
    releases: dict[str, datetime],
    other_dirs: dict[str, datetime],
    files: dict[str, datetime],
    style: str,
) -> None:
    fake = ApacheEmulator()
    fake.style = style
    fake.add_project("p", {**releases, **{f"{n}": t for n, t in other_dirs.items()}}, files)
    out = _listing(fake.page("p"), project="p")
    assert isinstance(out, list), out
    assert {r.version: r.released_at for r in out} == releases


# ---- ClickPy JSONEachRow and pypistats --------------------------------------------------------

days = st.one_of(
    st.dates().map(date.isoformat),
    st.sampled_from(["2024-02-30", "", "2024-1-1", "20240101"]),
    json_values,
)
# ASCII digit strings only: Unicode digits such as '²' are the ValueError bug (edge test below)
counts = st.one_of(
    ints, st.from_regex(r"\A[0-9]{1,19}\Z"), st.text(alphabet="0123456789-+. e", max_size=8)
)
rows = st.fixed_dictionaries({}, optional={"date": days, "downloads": counts | json_values})
click_lines = st.one_of(
    rows.map(json.dumps),
    st.sampled_from(
        [
            "",
            "Code: 241. DB::Exception: Memory limit (for query) exceeded. (MEMORY_LIMIT_EXCEEDED)",
            '{"exception": "Code: 159. DB::Exception: Timeout exceeded"}',
            "not json",
            "[1, 2]",
        ]
    ),
    st.text(max_size=40).filter(lambda t: "\n" not in t and "\r" not in t),
)


@FAST
@given(st.one_of(st.text(max_size=300), st.lists(click_lines, max_size=8).map("\n".join)))
def test_clickpy_body_gives_records_or_tracker_error(body: str) -> None:
    out = _outcome(lambda: clickpy.parse_daily(body, tool_id="t", package="p", url=URL))
    if isinstance(out, list):
        assert all(isinstance(r, DownloadRecord) and r.downloads >= 0 for r in out)
        assert len({r.day for r in out}) == len(out)
    elif "DB::Exception" in body:
        assert isinstance(out, TrackerError)


pypistats_rows = st.fixed_dictionaries(
    {},
    optional={
        "category": st.sampled_from(["without_mirrors", "with_mirrors", ""]) | json_values,
        "date": days,
        "downloads": ints | json_values,
    },
)
pypistats_payloads = st.fixed_dictionaries(
    {"data": st.lists(pypistats_rows | json_values, max_size=6) | json_values},
    optional={"package": json_values, "type": json_values},
)


@FAST
@given(st.one_of(json_values, pypistats_payloads))
def test_pypistats_payload_gives_records_or_tracker_error(payload: object) -> None:
    out = _outcome(lambda: pypistats.parse_overall(payload, tool_id="t", package="p", url=URL))
    if isinstance(out, list):
        assert all(isinstance(r, DownloadRecord) and r.downloads >= 0 for r in out)
        assert len({r.day for r in out}) == len(out)


# ---- known crashes (tracker bugs), pinned ----------------------------------------------------


def _crashes_cleanly(call: Callable[[], object]) -> None:
    _outcome(call)  # a non-TrackerError exception fails the test


@pytest.mark.parametrize("week", [10**20, -(10**12), 2**63])
def test_star_history_week_out_of_range(week: int) -> None:
    _crashes_cleanly(lambda: github.parse_star_history([{"week": week, "total": 1}], url=URL))


@pytest.mark.parametrize("field", ["created_at", "pushed_at"])
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_github_time_offset_overflow(field: str, value: str) -> None:
    _crashes_cleanly(
        lambda: github.parse_repo({"id": 1, "full_name": "a/b", field: value}, url=URL)
    )


def test_github_release_tag_beyond_int_digit_limit() -> None:
    item = {"tag_name": "1" + "0" * 5000, "published_at": "2024-01-01T00:00:00Z"}
    _crashes_cleanly(lambda: github.parse_releases([item], tool_id="t", project="o/r", url=URL))


@pytest.mark.parametrize("count", ['"\\u00b2"', '"' + "1" * 5000 + '"', "1" * 5000])
def test_clickpy_count_that_int_rejects(count: str) -> None:
    body = '{"date": "2024-01-01", "downloads": ' + count + "}\n"
    _crashes_cleanly(lambda: clickpy.parse_daily(body, tool_id="t", package="p", url=URL))


def test_apache_directory_beyond_int_digit_limit() -> None:
    html = '<pre><a href="1' + "0" * 5000 + '/">x</a> 2024-01-01 10:00\n</pre>'
    out = _listing(html)
    assert isinstance(out, list)


# ---- demand: Algolia listing and thread, Stack Exchange answers -------------------------------

hn_hits = st.fixed_dictionaries(
    {},
    optional={
        "objectID": st.sampled_from(["42919502", "x", "", "-1", "9" * 30]) | json_values,
        "title": st.sampled_from(
            [
                "Ask HN: Who is hiring? (February 2025)",
                "Ask HN: Who is hiring? (Smarch 99999)",
                "Ask HN: Who is hiring? (may 0001)",
                "Ask HN: Who is hiring?",
                "Ask HN: Who wants to be hired? (May 2023)",
            ]
        )
        | st.text(max_size=60)
        | json_values,
        "created_at_i": ints | json_values,
        "num_comments": ints | json_values,
    },
)
hn_comments = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["comment", "story", None]) | json_values,
        "text": st.none() | st.text(max_size=80) | st.sampled_from(["[dead]", " ", "<p>Airflow"]),
        "deleted": json_values,
        "dead": json_values,
        "children": json_values,
    },
)


@FAST
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"hits": st.lists(hn_hits | json_values, max_size=6)},
            optional={"nbHits": ints | json_values},
        ),
    )
)
def test_hn_listing_parser_never_crashes(payload: Any) -> None:
    from tracker.collectors import hn

    result = _outcome(lambda: hn.parse_listing(payload, url=URL))
    if not isinstance(result, TrackerError):
        assert all(t.month.day == 1 for t in result.threads)
        assert all(
            t.title.lower().lstrip().startswith("ask hn: who is hiring?") for t in result.threads
        )
        hn.choose_threads(list(result.threads))


@FAST
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"children": st.lists(hn_comments | json_values, max_size=6)},
            optional={"id": st.sampled_from([7, "7", 8]) | json_values},
        ),
    )
)
def test_hn_thread_parser_never_crashes(payload: Any) -> None:
    from tracker.collectors import hn

    result = _outcome(lambda: hn.parse_thread(payload, story_id=7, url=URL))
    if not isinstance(result, TrackerError):
        assert all(isinstance(p, str) and p.strip() for p in result)


@FAST
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {},
            optional={
                "total": ints | json_values,
                "backoff": ints | st.floats() | json_values,
                "quota_remaining": ints | json_values,
                "quota_max": ints | json_values,
                "error_id": ints | json_values,
                "error_name": st.sampled_from(["throttle_violation", "bad_parameter"])
                | json_values,
                "error_message": st.text(max_size=80) | json_values,
            },
        ),
    )
)
def test_stackexchange_answer_parsers_never_crash(payload: Any) -> None:
    from tracker.collectors import stackoverflow

    result = _outcome(lambda: stackoverflow.parse_answer(payload, url=URL))
    if not isinstance(result, TrackerError):
        assert result.total >= 0
        assert result.backoff is None or result.backoff >= 0
    error = stackoverflow.parse_error(payload)
    if error is not None:
        stackoverflow.throttle_wait(error.message)
