from __future__ import annotations

import functools
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import tests.collectors._downloads_support as dl
from tests.strategies import ANY_URL, FAST, days, ints, json_values, parse_outcome
from tracker.catalog import Tool
from tracker.collectors import pypistats
from tracker.collectors.base import CollectContext
from tracker.collectors.pypistats import PypistatsCollector, already_collected, parse_overall
from tracker.errors import ParseError
from tracker.records import DownloadRecord, ToolOutcome

BASE = "https://pypistats.test"
AIRFLOW = Tool(id="airflow", name="Apache Airflow", skill="orchestration", pypi=("apache-airflow",))
# the fixture's data ends on 2025-03-09: a run on 2025-03-10 sees yesterday as the newest day
RUN_AT = "2025-03-10T08:00"
OVERALL = "/api/packages/{}/overall"


def _json(name: str) -> Any:
    return json.loads(dl.fixture_text("pypistats", name))


def _stored(store: Any) -> list[tuple[Any, ...]]:
    return dl.stored_downloads(store, "pypistats", "airflow")


def _collect(
    router: respx.MockRouter, store: Any, clock: dl.FakeClock, tools: list[Tool]
) -> list[ToolOutcome]:
    return dl.collect(
        PypistatsCollector(dl.mock_transport(router), clock.monotonic), store, clock, tools
    )


# ---- parse --------------------------------------------------------------------------------


def test_parse_overall_returns_every_day_exactly() -> None:
    records = parse_overall(
        _json("overall_apache-airflow.json"), tool_id="airflow", package="apache-airflow", url="u"
    )
    assert len(records) == 10
    assert records[0] == DownloadRecord(
        "airflow", "apache-airflow", date(2025, 2, 28), 1043211, "pypistats"
    )
    assert records[-1] == DownloadRecord(
        "airflow", "apache-airflow", date(2025, 3, 9), 611507, "pypistats"
    )
    assert [r.day for r in records] == sorted(r.day for r in records)


def test_parse_overall_keeps_only_downloads_without_mirrors() -> None:
    records = parse_overall(
        _json("overall_dagster_both_categories.json"), tool_id="dagster", package="dagster", url="u"
    )
    assert [(r.day, r.downloads) for r in records] == [
        (date(2025, 3, 7), 182044),
        (date(2025, 3, 8), 96112),
        (date(2025, 3, 9), 90417),
    ]


def test_parse_overall_empty_data_gives_no_rows() -> None:
    assert parse_overall(_json("overall_empty.json"), tool_id="t", package="sacred", url="u") == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], "$"),
        ({"package": "x"}, "data"),
        (
            {"data": [{"category": "without_mirrors", "date": "03/09/2025", "downloads": 1}]},
            "data[].date",
        ),
        (
            {"data": [{"category": "without_mirrors", "date": "2025-03-09", "downloads": "12"}]},
            "data[].downloads",
        ),
        (
            {"data": [{"category": "without_mirrors", "date": "2025-03-09", "downloads": -1}]},
            "data[].downloads",
        ),
        (
            {
                "data": [
                    {"category": "without_mirrors", "date": "2025-03-09", "downloads": 1},
                    {"category": "without_mirrors", "date": "2025-03-09", "downloads": 2},
                ]
            },
            "data[].date",
        ),
    ],
)
def test_parse_overall_names_the_bad_field(payload: object, field: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_overall(payload, tool_id="t", package="p", url="https://pypistats.test/x")
    assert err.value.field == field
    assert "https://pypistats.test/x" in str(err.value)


@pytest.mark.parametrize(
    ("last_day", "fetched_at", "expected"),
    [
        (None, None, False),
        (date(2025, 3, 9), None, True),  # yesterday is stored: nothing newer exists
        (date(2025, 3, 8), None, False),  # yesterday may have been published since
        (date(2025, 3, 8), datetime(2025, 3, 10, 1, 0), True),  # already asked today
        (date(2025, 3, 8), datetime(2025, 3, 9, 23, 59), False),  # asked yesterday
    ],
)
def test_already_collected(
    last_day: date | None, fetched_at: datetime | None, expected: bool
) -> None:
    assert already_collected(last_day, fetched_at, now=dl.at(RUN_AT)) is expected


# ---- collector ----------------------------------------------------------------------------


def test_collect_stores_days_then_skips_the_same_day_then_grows(store: Any) -> None:
    router = dl.mock_router(BASE)
    route = router.get(OVERALL.format("apache-airflow"), params={"mirrors": "false"})
    route.respond(200, json=_json("overall_apache-airflow.json"), headers={"ETag": '"v1"'})
    clock = dl.FakeClock(dl.at(RUN_AT))
    collector = PypistatsCollector(transport=dl.mock_transport(router), clock=clock.monotonic)

    dl.store_all(store, dl.collect(collector, store, clock, [AIRFLOW]))
    first = _stored(store)
    assert len(first) == 10
    assert first[-1] == ("apache-airflow", date(2025, 3, 9), 611507)
    assert route.call_count == 1

    # same day again: yesterday is stored, no request at all
    collector = PypistatsCollector(transport=dl.mock_transport(router), clock=clock.monotonic)
    batch = dl.only_batch(dl.collect(collector, store, clock, [AIRFLOW]))
    assert route.call_count == 1
    assert dict(batch.counters) == {"packages_fetched": 0, "packages_skipped_fresh": 1}

    # next day: the 180-day window moved on; the old day stays, the revised day is overwritten
    route.respond(200, json=_json("overall_apache-airflow_next_day.json"), headers={"ETag": '"v2"'})
    clock = dl.FakeClock(dl.at("2025-03-11T08:00"))
    collector = PypistatsCollector(transport=dl.mock_transport(router), clock=clock.monotonic)
    dl.store_all(store, dl.collect(collector, store, clock, [AIRFLOW]))
    assert route.call_count == 2
    assert route.calls.last.request.headers["If-None-Match"] == '"v1"'
    second = _stored(store)
    assert len(second) == 11  # 10 + one new day, no duplicate
    assert second[0] == ("apache-airflow", date(2025, 2, 28), 1043211)  # outside the new window
    assert ("apache-airflow", date(2025, 3, 9), 633402) in second  # revised upwards
    assert second[-1] == ("apache-airflow", date(2025, 3, 10), 598761)
    assert dl.rows(store, "SELECT etag FROM http_cache WHERE url LIKE '%apache-airflow%'") == [
        ('"v2"',)
    ]


def test_not_modified_stores_nothing_and_counts_as_fetched(store: Any) -> None:
    router = dl.mock_router(BASE)
    route = router.get(OVERALL.format("apache-airflow"))
    route.respond(200, json=_json("overall_apache-airflow.json"), headers={"ETag": '"v1"'})
    clock = dl.FakeClock(dl.at(RUN_AT))
    dl.store_all(
        store,
        _collect(router, store, clock, [AIRFLOW]),
    )
    route.respond(304)
    clock = dl.FakeClock(dl.at("2025-03-12T08:00"))
    batch = dl.only_batch(_collect(router, store, clock, [AIRFLOW]))
    assert batch.downloads == ()
    assert batch.errors == ()
    assert len(batch.http_cache) == 1
    assert len(_stored(store)) == 10


def test_fetched_today_is_not_asked_again_even_without_yesterday(store: Any) -> None:
    """pypistats has not published yesterday yet: the package is asked once a day, not per run."""
    router = dl.mock_router(BASE)
    route = router.get(OVERALL.format("apache-airflow"))
    route.respond(200, json=_json("overall_apache-airflow.json"))
    # http_cache.updated_at is written with the real clock, so "today" is the real UTC date here
    clock = dl.FakeClock(datetime.now(UTC))
    for _ in range(2):
        collector = PypistatsCollector(transport=dl.mock_transport(router), clock=clock.monotonic)
        dl.store_all(store, dl.collect(collector, store, clock, [AIRFLOW]))
    assert route.call_count == 1


def test_throttle_spaces_requests_two_seconds_apart(store: Any) -> None:
    tool = Tool(
        id="dbt", name="dbt", skill="data-processing", pypi=("dbt-core", "dbt", "dbt_postgres")
    )
    router = dl.mock_router(BASE)
    for name in ("dbt-core", "dbt", "dbt-postgres"):
        router.get(OVERALL.format(name)).respond(200, json=_json("overall_empty.json"))
    clock = dl.FakeClock(dl.at(RUN_AT))
    batch = dl.only_batch(_collect(router, store, clock, [tool]))
    assert clock.sleeps == [2.0, 2.0]  # 30 requests per minute
    assert [c.request.url.path for c in router.calls] == [
        "/api/packages/dbt-core/overall",
        "/api/packages/dbt/overall",
        "/api/packages/dbt-postgres/overall",  # PEP 503 name
    ]
    assert batch.downloads == ()
    assert len(batch.warnings) == 3
    assert "has no download data" in batch.warnings[0]


def test_429_with_html_body_waits_a_minute_then_stores(store: Any) -> None:
    router = dl.mock_router(BASE)
    html = dl.fixture_text("pypistats", "429.html")
    router.get(OVERALL.format("apache-airflow")).mock(
        side_effect=[
            httpx.Response(429, text=html, headers={"Content-Type": "text/html"}),
            httpx.Response(
                429, text=html, headers={"Content-Type": "text/html", "Retry-After": "7"}
            ),
            httpx.Response(200, json=_json("overall_apache-airflow.json")),
        ]
    )
    clock = dl.FakeClock(dl.at(RUN_AT))
    batch = dl.only_batch(_collect(router, store, clock, [AIRFLOW]))
    assert 60.0 in clock.sleeps and 7.0 in clock.sleeps
    assert sum(clock.sleeps) >= 67.0
    assert len(batch.downloads) == 10
    assert batch.errors == ()


def test_persistent_429_stops_the_source_without_more_requests(store: Any) -> None:
    router = dl.mock_router(BASE)
    html = dl.fixture_text("pypistats", "429.html")
    route = router.get(OVERALL.format("apache-airflow")).respond(
        429, text=html, headers={"Content-Type": "text/html"}
    )
    other = router.get(OVERALL.format("dagster")).respond(200, json=_json("overall_empty.json"))
    dagster = Tool(id="dagster", name="Dagster", skill="orchestration", pypi=("dagster",))
    clock = dl.FakeClock(dl.at(RUN_AT))
    outcomes = _collect(router, store, clock, [AIRFLOW, dagster])
    assert route.call_count == 4  # first try + 3 waits of a minute
    assert other.call_count == 0
    first, second = outcomes
    assert first.tool_id == "airflow" and "HTTP 429" in first.error  # type: ignore[union-attr]
    assert "HTML page instead of JSON" in first.error  # type: ignore[union-attr]
    assert second.tool_id == "dagster" and "not collected" in second.error  # type: ignore[union-attr]


def test_unknown_package_fails_that_package_only(store: Any) -> None:
    tool = Tool(
        id="x", name="X", skill="orchestration", pypi=("apache-airflow", "no-such-package-xyz")
    )
    router = dl.mock_router(BASE)
    router.get(OVERALL.format("apache-airflow")).respond(
        200, json=_json("overall_apache-airflow.json")
    )
    router.get(OVERALL.format("no-such-package-xyz")).respond(
        404, text=dl.fixture_text("pypistats", "404.html"), headers={"Content-Type": "text/html"}
    )
    clock = dl.FakeClock(dl.at(RUN_AT))
    batch = dl.only_batch(_collect(router, store, clock, [tool]))
    assert len(batch.downloads) == 10
    assert len(batch.errors) == 1
    assert "HTTP 404" in batch.errors[0] and "no-such-package-xyz" in batch.errors[0]

    only = Tool(id="y", name="Y", skill="orchestration", pypi=("no-such-package-xyz",))
    failure = dl.only_failure(_collect(router, store, clock, [only]))
    assert "unknown package or no downloads for 'no-such-package-xyz'" in failure.error


def test_server_error_is_retried_by_the_transport(store: Any) -> None:
    router = dl.mock_router(BASE)
    router.get(OVERALL.format("apache-airflow")).mock(
        side_effect=[
            httpx.Response(503, text="<html>upstream</html>"),
            httpx.Response(200, json=_json("overall_apache-airflow.json")),
        ]
    )
    clock = dl.FakeClock(dl.at(RUN_AT))
    batch = dl.only_batch(_collect(router, store, clock, [AIRFLOW]))
    assert len(batch.downloads) == 10


def test_html_instead_of_json_is_a_one_line_error(store: Any) -> None:
    router = dl.mock_router(BASE)
    router.get(OVERALL.format("apache-airflow")).respond(200, text="<html>maintenance</html>")
    clock = dl.FakeClock(dl.at(RUN_AT))
    failure = dl.only_failure(_collect(router, store, clock, [AIRFLOW]))
    assert "invalid JSON (HTML page instead of JSON)" in failure.error
    assert "\n" not in failure.error


# ---- CLI, end to end ------------------------------------------------------------------------


def _cli(monkeypatch: pytest.MonkeyPatch, db: Path, clock: dl.FakeClock, *args: str) -> Any:
    import tracker.runner
    from tracker.cli import app

    monkeypatch.setattr(
        tracker.runner,
        "CollectContext",
        functools.partial(CollectContext, sleep=clock.sleep, now=clock.now),
    )
    return CliRunner().invoke(app, ["collect", "--db", str(db), *args])


def test_cli_collects_pypistats_twice_without_duplicates(
    monkeypatch: pytest.MonkeyPatch, db_path: Path
) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.get(OVERALL.format("apache-airflow"), params={"mirrors": "false"})
        route.respond(200, json=_json("overall_apache-airflow.json"))
        clock = dl.FakeClock(dl.at(RUN_AT))
        first = _cli(monkeypatch, db_path, clock, "--source", "pypistats", "--tool", "airflow")
        assert first.exit_code == 0, first.output
        assert first.output.startswith("pypistats: ok, 1 tool stored, 0 failed, 10 rows, 1 request")
        second = _cli(monkeypatch, db_path, clock, "--source", "pypistats", "--tool", "airflow")
        assert second.exit_code == 0, second.output
        assert "0 rows, 0 requests" in second.output
        assert route.call_count == 1

    [got] = dl.query_db(
        db_path, "SELECT tool_id, package, day, downloads, source FROM downloads_daily ORDER BY day"
    )
    expected = [
        ("airflow", "apache-airflow", date.fromisoformat(r["date"]), r["downloads"], "pypistats")
        for r in _json("overall_apache-airflow.json")["data"]
    ]
    assert got == expected


def test_a_retry_after_beyond_ten_minutes_gives_up_at_once(store: Any) -> None:
    router = dl.mock_router(BASE)
    route = router.get(OVERALL.format("apache-airflow")).respond(
        429, text=dl.fixture_text("pypistats", "429.html"), headers={"Retry-After": "3600"}
    )
    clock = dl.FakeClock(dl.at(RUN_AT))
    failure = dl.only_failure(_collect(router, store, clock, [AIRFLOW]))
    assert route.call_count == 1
    assert clock.sleeps == []
    assert "HTTP 429" in failure.error and "rate limited after 1 attempt(s)" in failure.error


def test_a_payload_that_does_not_parse_is_asked_again_next_run(store: Any) -> None:
    tool = Tool(id="x", name="X", skill="orchestration", pypi=("good-pkg", "bad-pkg"))
    router = dl.mock_router(BASE)
    good = router.get(OVERALL.format("good-pkg")).respond(200, json=_json("overall_empty.json"))
    bad = router.get(OVERALL.format("bad-pkg")).respond(200, json={"data": "oops"})
    # http_cache.updated_at is written with the real clock, so "today" is the real UTC date here
    clock = dl.FakeClock(datetime.now(UTC))
    for _ in range(2):
        collector = PypistatsCollector(transport=dl.mock_transport(router), clock=clock.monotonic)
        batch = dl.only_batch(dl.collect(collector, store, clock, [tool]))
        assert len(batch.errors) == 1 and "bad field 'data'" in batch.errors[0]
        store.write_batch(batch)
    assert good.call_count == 1  # fetched today: skipped on the second run
    assert bad.call_count == 2  # never marked as fetched


# ---- property tests: any input parses or raises a TrackerError ----------------------------------

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
    out = parse_outcome(
        lambda: pypistats.parse_overall(payload, tool_id="t", package="p", url=ANY_URL)
    )
    if isinstance(out, list):
        assert all(isinstance(r, DownloadRecord) and r.downloads >= 0 for r in out)
        assert len({r.day for r in out}) == len(out)
