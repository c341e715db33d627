from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import tests.collectors._downloads_support as dl
from fakes import ApacheEmulator
from tests.strategies import FAST, parse_outcome
from tracker.catalog import Tool
from tracker.collectors import apache
from tracker.collectors.apache import (
    ApacheCollector,
    parse_listing,
    parse_releases,
    release_version,
)
from tracker.collectors.base import CollectContext
from tracker.errors import TrackerError
from tracker.records import ReleaseRecord

BASE = "https://archive.test/dist"
OOZIE = Tool(id="oozie", name="Apache Oozie", skill="orchestration", apache="oozie")
AIRFLOW = Tool(id="airflow", name="Apache Airflow", skill="orchestration", apache="airflow")
RUN_AT = "2025-03-10T08:00"

OOZIE_VERSIONS = [
    "3.1.3-incubating",
    "3.2.0-incubating",
    "3.3.0",
    "3.3.1",
    "3.3.2",
    "4.0.0",
    "4.0.1",
    "4.1.0",
    "4.2.0",
    "4.3.0",
    "4.3.1",
    "5.0.0",
    "5.1.0",
    "5.2.0",
    "5.2.1",
]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# ---- parse --------------------------------------------------------------------------------


def test_oozie_pre_listing_gives_every_release_with_its_time() -> None:
    releases = parse_releases(
        parse_listing(dl.fixture_text("apache", "oozie.html")), tool_id="oozie", project="oozie"
    )
    assert [r.version for r in releases] == OOZIE_VERSIONS
    newest = releases[-1]
    assert newest.released_at == _utc("2021-02-26T09:37")
    assert releases[0].released_at == _utc("2012-03-05T20:36")  # from "oozie-3.1.3-incubating/"
    assert all(r.source == "apache" and r.project == "oozie" for r in releases)
    assert not any(r.is_prerelease or r.is_yanked for r in releases)
    # "-incubating" is Apache's podling marker, not PEP 440: kept, flagged
    assert [r.version for r in releases if not r.version_valid] == OOZIE_VERSIONS[:2]


def test_airflow_table_listing_skips_named_directories_and_files() -> None:
    releases = parse_releases(
        parse_listing(dl.fixture_text("apache", "airflow.html")),
        tool_id="airflow",
        project="airflow",
    )
    assert [(r.version, r.released_at, r.is_prerelease) for r in releases] == [
        ("1.10.0", _utc("2018-08-27T13:35"), False),
        ("1.10.15", _utc("2021-03-17T21:02"), False),
        ("2.0.0", _utc("2020-12-17T19:12"), False),
        ("2.2.0b1", _utc("2021-09-10T08:45"), True),
        ("2.7.0", _utc("2023-08-18T16:49"), False),
        ("2.10.5", _utc("2025-02-10T14:03"), False),
        ("3.0.0", _utc("2025-04-22T16:23"), False),
    ]


def test_odd_listing_keeps_only_relative_version_directories() -> None:
    entries = parse_listing(dl.fixture_text("apache", "odd.html"))
    releases = parse_releases(entries, tool_id="oozie", project="oozie")
    assert [(r.version, r.released_at, r.is_prerelease) for r in releases] == [
        ("3.3.2", _utc("2013-04-26T20:46"), False),  # listed twice: the earliest time wins
        ("5.0.0-beta1", _utc("2017-12-12T14:05"), True),  # httpd's default date format
        ("5.2.1", _utc("2021-02-26T09:37"), False),
        ("6.0.0", None, False),  # no Last modified on its row: stored without a time
    ]


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("5.2.1/", "5.2.1"),
        ("oozie-3.3.2/", "3.3.2"),
        ("apache-oozie-4.0.0/", "4.0.0"),
        ("3.2.0-incubating/", "3.2.0-incubating"),
        ("../", None),
        ("/dist/", None),
        ("/dist/oozie/4.0.0/", None),
        ("https://downloads.apache.org/oozie/5.2.1/", None),
        ("?C=N;O=D", None),
        ("KEYS", None),
        ("oozie-5.2.1.tar.gz", None),
        ("stable/", None),
        ("providers/", None),
        ("not-a-version-1/", None),
        ("5.2.x/", None),
    ],
)
def test_release_version(href: str, expected: str | None) -> None:
    assert release_version(href, "oozie") == expected


# ---- collector ----------------------------------------------------------------------------


def test_collect_fetches_each_listing_with_a_one_second_spacing(store: Any) -> None:
    router = dl.mock_router(BASE)
    oozie = router.get("/oozie/").respond(
        200, text=dl.fixture_text("apache", "oozie.html"), headers={"Content-Type": "text/html"}
    )
    airflow = router.get("/airflow/").respond(
        200, text=dl.fixture_text("apache", "airflow.html"), headers={"Content-Type": "text/html"}
    )
    clock = dl.FakeClock(dl.at(RUN_AT))
    outcomes = dl.collect(
        ApacheCollector(dl.mock_transport(router)), store, clock, [OOZIE, AIRFLOW]
    )
    assert oozie.call_count == 1 and airflow.call_count == 1
    assert str(oozie.calls.last.request.url) == "https://archive.test/dist/oozie/"
    first, second = outcomes
    assert first.tool_id == "oozie" and len(first.releases) == 15  # type: ignore[union-attr]
    assert first.warnings == ("2 version(s) are not PEP 440 (stored, flagged)",)  # type: ignore[union-attr]
    assert second.tool_id == "airflow" and len(second.releases) == 7  # type: ignore[union-attr]


def test_unknown_project_is_a_one_line_failure(store: Any) -> None:
    router = dl.mock_router(BASE)
    router.get("/oozie/").respond(404, text="<html><title>404 Not Found</title></html>")
    failure = dl.only_failure(
        dl.collect(
            ApacheCollector(dl.mock_transport(router)), store, dl.FakeClock(dl.at(RUN_AT)), [OOZIE]
        )
    )
    assert failure.error == (
        "apache: HTTP 404 from https://archive.test/dist/oozie/: no archive directory for project 'oozie'"
    )


def test_listing_without_versions_is_a_failure_not_an_empty_history(store: Any) -> None:
    router = dl.mock_router(BASE)
    router.get("/oozie/").respond(
        200,
        text='<html><body><pre><a href="../">Parent Directory</a>\n<a href="KEYS">KEYS</a></pre></body></html>',
        headers={"Content-Type": "text/html"},
    )
    failure = dl.only_failure(
        dl.collect(
            ApacheCollector(dl.mock_transport(router)), store, dl.FakeClock(dl.at(RUN_AT)), [OOZIE]
        )
    )
    assert "no version directory" in failure.error


def test_undated_release_is_stored_and_warned(store: Any) -> None:
    router = dl.mock_router(BASE)
    router.get("/oozie/").respond(
        200, text=dl.fixture_text("apache", "odd.html"), headers={"Content-Type": "text/html"}
    )
    batch = dl.only_batch(
        dl.collect(
            ApacheCollector(dl.mock_transport(router)), store, dl.FakeClock(dl.at(RUN_AT)), [OOZIE]
        )
    )
    assert "1 release(s) without a Last modified time" in batch.warnings


# ---- CLI, end to end ------------------------------------------------------------------------


def test_cli_stores_oozie_and_airflow_releases_exactly_once(
    monkeypatch: pytest.MonkeyPatch, db_path: Path
) -> None:
    import tracker.runner
    from tracker.cli import app

    clock = dl.FakeClock(dl.at(RUN_AT))
    monkeypatch.setattr(
        tracker.runner,
        "CollectContext",
        functools.partial(CollectContext, sleep=clock.sleep, now=clock.now),
    )
    args = ["collect", "--db", str(db_path), "--source", "apache"]
    args += ["--tool", "oozie", "--tool", "airflow"]
    with respx.mock(base_url=BASE, assert_all_called=True) as mock:
        mock.get("/oozie/").respond(
            200, text=dl.fixture_text("apache", "oozie.html"), headers={"Content-Type": "text/html"}
        )
        mock.get("/airflow/").respond(
            200,
            text=dl.fixture_text("apache", "airflow.html"),
            headers={"Content-Type": "text/html"},
        )
        for _ in range(2):
            result = CliRunner().invoke(app, args)
            assert result.exit_code == 0, result.output
            assert "apache: ok, 2 tools stored, 0 failed, 22 rows, 2 requests" in result.output

    got, total = dl.query_db(
        db_path,
        "SELECT version, released_at, is_prerelease, is_yanked FROM releases"
        " WHERE tool_id = 'oozie' AND source = 'apache' AND project = 'oozie'",
        "SELECT count(*) FROM releases WHERE source = 'apache'",
    )
    assert total == [(22,)]
    by_version = {v: (t, p, y) for v, t, p, y in got}
    assert sorted(by_version, key=OOZIE_VERSIONS.index) == OOZIE_VERSIONS
    assert by_version["5.2.1"] == (datetime(2021, 2, 26, 9, 37), False, False)
    assert max(t for t, _, _ in by_version.values()) == datetime(2021, 2, 26, 9, 37)


# ---- property tests: any input parses or raises a TrackerError ----------------------------------

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

    return parse_outcome(run)


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


def test_apache_directory_beyond_int_digit_limit() -> None:
    html = '<pre><a href="1' + "0" * 5000 + '/">x</a> 2024-01-01 10:00\n</pre>'
    out = _listing(html)
    assert isinstance(out, list)
