from __future__ import annotations

import functools
import json
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import tests.collectors._downloads_support as dl
from tests.strategies import ANY_URL, FAST, crashes_cleanly, days, ints, json_values, parse_outcome
from tracker.catalog import Tool
from tracker.collectors import clickpy
from tracker.collectors.base import CollectContext
from tracker.collectors.clickpy import (
    DOWNLOADS_SQL,
    ClickHouseError,
    ClickpyCollector,
    fetch_daily,
    parse_daily,
    query_window,
)
from tracker.errors import ParseError, TrackerError, UpstreamError
from tracker.records import DownloadRecord, ToolBatch

BASE = "https://clickhouse.test"
DAGSTER = Tool(id="dagster", name="Dagster", skill="orchestration", pypi=("dagster",))
RUN_AT = "2025-03-10T08:00"


def _stored(store: Any) -> list[tuple[Any, ...]]:
    return dl.stored_downloads(store, "clickpy")


# ---- parse --------------------------------------------------------------------------------


def test_parse_daily_reads_quoted_64bit_integers() -> None:
    records = parse_daily(
        dl.fixture_text("clickpy", "backfill_dagster.jsonl"),
        tool_id="dagster",
        package="dagster",
        url="u",
    )
    assert len(records) == 8
    assert records[0] == DownloadRecord("dagster", "dagster", date(2019, 5, 2), 14, "clickpy")
    assert records[-1] == DownloadRecord("dagster", "dagster", date(2025, 3, 9), 93004, "clickpy")


def test_parse_daily_accepts_unquoted_integers_and_blank_lines() -> None:
    body = '{"date":"2025-03-01","downloads":12}\n\n{"date":"2025-03-02","downloads":"0"}\n'
    records = parse_daily(body, tool_id="t", package="p", url="u")
    assert [(r.day, r.downloads) for r in records] == [
        (date(2025, 3, 1), 12),
        (date(2025, 3, 2), 0),
    ]


def test_parse_daily_empty_body_is_no_rows() -> None:
    assert parse_daily("", tool_id="t", package="p", url="u") == []


def test_parse_daily_detects_an_exception_after_200() -> None:
    with pytest.raises(ClickHouseError) as err:
        parse_daily(
            dl.fixture_text("clickpy", "error_after_200.txt"), tool_id="t", package="p", url="u"
        )
    message = str(err.value)
    assert "Code: 241. DB::Exception: Memory limit (for query) exceeded" in message
    assert "after 2 rows" in message
    assert "\n" not in message


def test_parse_daily_detects_an_exception_written_as_json() -> None:
    body = '{"date":"2025-03-01","downloads":"1"}\n{"exception": "Code: 159. DB::Exception: Timeout exceeded"}\n'
    with pytest.raises(ClickHouseError, match="Code: 159"):
        parse_daily(body, tool_id="t", package="p", url="u")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not json at all\n", "JSONEachRow"),
        ('{"date":"2025-13-01","downloads":"1"}', "date"),
        ('{"date":"2025-03-01","downloads":"-1"}', "downloads"),
        ('{"date":"2025-03-01","downloads":null}', "downloads"),
        ('{"date":"2025-03-01","downloads":"1"}\n{"date":"2025-03-01","downloads":"2"}', "date"),
    ],
)
def test_parse_daily_names_the_bad_field(body: str, field: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_daily(body, tool_id="t", package="p", url="u")
    assert err.value.field == field


def test_query_window_backfills_then_reads_after_the_cursor_with_a_lag() -> None:
    today = date(2025, 3, 10)
    assert query_window(None, today) == (date(1970, 1, 1), today)
    assert query_window(date(2025, 3, 9), today) == (date(2025, 3, 6), today)


# ---- HTTP ---------------------------------------------------------------------------------


def test_fetch_sends_the_name_only_as_a_query_parameter() -> None:
    router = dl.mock_router(BASE)
    route = router.post("/").respond(200, text="")
    client = httpx.Client(base_url=BASE, transport=dl.mock_transport(router))
    fetch_daily(client, "dagster", user="play", since=date(1970, 1, 1), until=date(2025, 3, 10))
    request = route.calls.last.request
    assert request.url.params["user"] == "play"
    assert request.url.params["param_name"] == "dagster"
    assert request.url.params["param_since"] == "1970-01-01"
    assert request.url.params["param_until"] == "2025-03-10"
    body = request.content.decode()
    assert body == DOWNLOADS_SQL
    assert "dagster" not in body
    assert "project = {name:String}" in body and "FORMAT JSONEachRow" in body


@pytest.mark.parametrize("name", ["Dagster", "a'b", "x; DROP TABLE t", "dagster_x", ""])
def test_fetch_refuses_names_that_are_not_normalised(name: str) -> None:
    router = dl.mock_router(BASE)
    route = router.post("/").respond(200, text="")
    client = httpx.Client(base_url=BASE, transport=dl.mock_transport(router))
    with pytest.raises(UpstreamError, match="not a normalised PyPI name"):
        fetch_daily(client, name, user="play", since=date(2025, 1, 1), until=date(2025, 3, 10))
    assert route.call_count == 0


def test_fetch_reports_a_clickhouse_error_status() -> None:
    router = dl.mock_router(BASE)
    router.post("/").respond(
        404,
        text=dl.fixture_text("clickpy", "error_unknown_table.txt"),
        headers={"X-ClickHouse-Exception-Code": "60"},
    )
    client = httpx.Client(base_url=BASE, transport=dl.mock_transport(router))
    with pytest.raises(ClickHouseError) as err:
        fetch_daily(client, "dagster", user="play", since=date(2025, 1, 1), until=date(2025, 3, 10))
    assert err.value.status == 404
    assert "Code: 60. DB::Exception: Unknown table expression" in str(err.value)


# ---- collector ----------------------------------------------------------------------------


def test_backfill_then_only_days_after_the_cursor(store: Any) -> None:
    router = dl.mock_router(BASE)
    route = router.post("/")
    route.respond(200, text=dl.fixture_text("clickpy", "backfill_dagster.jsonl"))
    clock = dl.FakeClock(dl.at(RUN_AT))
    dl.store_all(
        store, dl.collect(ClickpyCollector(dl.mock_transport(router)), store, clock, [DAGSTER])
    )
    assert len(_stored(store)) == 8
    assert route.calls.last.request.url.params["param_since"] == "1970-01-01"
    assert route.calls.last.request.url.params["param_until"] == "2025-03-10"

    route.respond(200, text=dl.fixture_text("clickpy", "incremental_dagster.jsonl"))
    clock = dl.FakeClock(dl.at("2025-03-11T08:00"))
    batch = dl.only_batch(
        dl.collect(ClickpyCollector(dl.mock_transport(router)), store, clock, [DAGSTER])
    )
    store.write_batch(batch)
    params = route.calls.last.request.url.params
    assert (params["param_since"], params["param_until"]) == ("2025-03-06", "2025-03-11")
    assert dict(batch.counters) == {"packages_backfilled": 0}
    stored = _stored(store)
    assert len(stored) == 9  # one new day; the lag window overwrote, never duplicated
    assert ("dagster", date(2025, 3, 9), 95377) in stored  # the late batch of 2025-03-09
    assert stored[-1] == ("dagster", date(2025, 3, 10), 187006)


def test_error_after_200_stores_nothing_for_that_package(store: Any) -> None:
    router = dl.mock_router(BASE)
    router.post("/").respond(200, text=dl.fixture_text("clickpy", "error_after_200.txt"))
    clock = dl.FakeClock(dl.at(RUN_AT))
    failure = dl.only_failure(
        dl.collect(ClickpyCollector(dl.mock_transport(router)), store, clock, [DAGSTER])
    )
    assert "HTTP 200" in failure.error and "MEMORY_LIMIT_EXCEEDED" in failure.error


def test_unknown_package_on_backfill_is_an_error_not_zero(store: Any) -> None:
    tool = Tool(id="x", name="X", skill="orchestration", pypi=("no-such-package-xyz",))
    router = dl.mock_router(BASE)
    router.post("/").respond(200, text=dl.fixture_text("clickpy", "empty.jsonl"))
    clock = dl.FakeClock(dl.at(RUN_AT))
    failure = dl.only_failure(
        dl.collect(ClickpyCollector(dl.mock_transport(router)), store, clock, [tool])
    )
    assert "no-such-package-xyz: ClickPy has no downloads" in failure.error
    assert _stored(store) == []


def test_no_new_day_after_backfill_is_fine(store: Any) -> None:
    store.write_batch(
        ToolBatch(
            tool_id="dagster",
            downloads=(DownloadRecord("dagster", "dagster", date(2025, 3, 9), 5, "clickpy"),),
        )
    )
    router = dl.mock_router(BASE)
    router.post("/").respond(200, text="")
    clock = dl.FakeClock(dl.at(RUN_AT))
    batch = dl.only_batch(
        dl.collect(ClickpyCollector(dl.mock_transport(router)), store, clock, [DAGSTER])
    )
    assert batch.downloads == () and batch.errors == ()


def test_server_error_is_retried_even_though_it_is_a_post(store: Any) -> None:
    router = dl.mock_router(BASE)
    router.post("/").mock(
        side_effect=[
            httpx.Response(503, text="Service Unavailable"),
            httpx.Response(200, text=dl.fixture_text("clickpy", "backfill_dagster.jsonl")),
        ]
    )
    clock = dl.FakeClock(dl.at(RUN_AT))
    batch = dl.only_batch(
        dl.collect(ClickpyCollector(dl.mock_transport(router)), store, clock, [DAGSTER])
    )
    assert len(batch.downloads) == 8
    assert len(clock.sleeps) == 1


def test_authentication_error_names_the_user(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_CLICKHOUSE_USER", "demo")
    router = dl.mock_router(BASE)
    route = router.post("/").respond(
        403,
        text=dl.fixture_text("clickpy", "error_auth.txt"),
        headers={"X-ClickHouse-Exception-Code": "516"},
    )
    clock = dl.FakeClock(dl.at(RUN_AT))
    failure = dl.only_failure(
        dl.collect(ClickpyCollector(dl.mock_transport(router)), store, clock, [DAGSTER])
    )
    assert route.calls.last.request.url.params["user"] == "demo"
    assert "Code: 516. DB::Exception: demo: Authentication failed" in failure.error


def _refuse(users: set[str]) -> Any:
    """A ClickHouse answer that accepts only ``users`` (code 516 with its header otherwise)."""

    def answer(request: httpx.Request) -> httpx.Response:
        user = request.url.params["user"]
        if user in users:
            return httpx.Response(200, text=dl.fixture_text("clickpy", "backfill_dagster.jsonl"))
        text = dl.fixture_text("clickpy", "error_auth.txt").replace("demo:", f"{user}:")
        return httpx.Response(403, text=text, headers={"X-ClickHouse-Exception-Code": "516"})

    return answer


def test_default_user_is_demo(store: Any) -> None:
    router = dl.mock_router(BASE)
    route = router.post("/").mock(side_effect=_refuse({"demo", "play"}))
    clock = dl.FakeClock(dl.at(RUN_AT))
    dl.only_batch(dl.collect(ClickpyCollector(dl.mock_transport(router)), store, clock, [DAGSTER]))
    assert [c.request.url.params["user"] for c in route.calls] == ["demo"]


def test_a_refused_default_user_falls_back_to_play_once_per_run(
    store: Any, caplog: pytest.LogCaptureFixture
) -> None:
    router = dl.mock_router(BASE)
    route = router.post("/").mock(side_effect=_refuse({"play"}))
    tools = [DAGSTER, Tool(id="d2", name="D2", skill="orchestration", pypi=("dagster-pipes",))]
    clock = dl.FakeClock(dl.at(RUN_AT))
    with caplog.at_level("INFO", logger="tracker.collectors.clickpy"):
        outcomes = dl.collect(ClickpyCollector(dl.mock_transport(router)), store, clock, tools)
    assert all(isinstance(o, ToolBatch) and len(o.downloads) == 8 for o in outcomes)
    assert [c.request.url.params["user"] for c in route.calls] == ["demo", "play", "play"]
    assert "user 'demo' refused (code 516); trying 'play'" in caplog.text
    assert "querying as user 'play'" in caplog.text


def test_when_both_users_are_refused_the_error_names_the_last_one(store: Any) -> None:
    router = dl.mock_router(BASE)
    route = router.post("/").mock(side_effect=_refuse(set()))
    clock = dl.FakeClock(dl.at(RUN_AT))
    failure = dl.only_failure(
        dl.collect(ClickpyCollector(dl.mock_transport(router)), store, clock, [DAGSTER])
    )
    assert [c.request.url.params["user"] for c in route.calls] == ["demo", "play"]
    assert "Code: 516. DB::Exception: play: Authentication failed" in failure.error


def test_an_explicit_user_is_never_swapped(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_CLICKHOUSE_USER", "analyst")
    router = dl.mock_router(BASE)
    route = router.post("/").mock(side_effect=_refuse({"demo", "play"}))
    clock = dl.FakeClock(dl.at(RUN_AT))
    failure = dl.only_failure(
        dl.collect(ClickpyCollector(dl.mock_transport(router)), store, clock, [DAGSTER])
    )
    assert [c.request.url.params["user"] for c in route.calls] == ["analyst"]
    assert "analyst: Authentication failed" in failure.error
    assert "TRACKER_CLICKHOUSE_USER is set, so no other user is tried" in failure.error


def test_a_bad_clickhouse_user_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from tracker.config import load_settings
    from tracker.errors import ConfigError

    monkeypatch.setenv("TRACKER_CLICKHOUSE_USER", "play&param_name=x")
    with pytest.raises(ConfigError, match="TRACKER_CLICKHOUSE_USER"):
        load_settings()


# ---- views: both sources keep their rows, the view prefers ClickPy -------------------------


def test_both_sources_keep_their_rows_and_the_view_prefers_clickpy(store: Any) -> None:
    day = date(2025, 3, 9)
    store.write_batch(
        ToolBatch(
            tool_id="dagster",
            downloads=(
                DownloadRecord("dagster", "dagster", day, 90417, "pypistats"),
                DownloadRecord("dagster", "dagster", day, 93004, "clickpy"),
                DownloadRecord("dagster", "dagster", date(2025, 3, 10), 88000, "pypistats"),
            ),
        )
    )
    assert len(dl.rows(store, "SELECT * FROM downloads_daily WHERE tool_id = 'dagster'")) == 3
    preferred = dl.rows(
        store,
        "SELECT day, downloads, source FROM downloads_preferred WHERE tool_id = 'dagster' ORDER BY day",
    )
    assert preferred == [(day, 93004, "clickpy"), (date(2025, 3, 10), 88000, "pypistats")]


# ---- CLI, end to end ------------------------------------------------------------------------


def test_cli_backfills_then_increments_without_duplicates(
    monkeypatch: pytest.MonkeyPatch, db_path: Path
) -> None:
    import tracker.runner
    from tracker.cli import app

    def invoke(clock: dl.FakeClock) -> Any:
        monkeypatch.setattr(
            tracker.runner,
            "CollectContext",
            functools.partial(CollectContext, sleep=clock.sleep, now=clock.now),
        )
        return CliRunner().invoke(
            app, ["collect", "--db", str(db_path), "--source", "clickpy", "--tool", "dagster"]
        )

    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.post("/", params={"param_name": "dagster"})
        route.respond(200, text=dl.fixture_text("clickpy", "backfill_dagster.jsonl"))
        first = invoke(dl.FakeClock(dl.at(RUN_AT)))
        assert first.exit_code == 0, first.output
        assert "clickpy: ok, 1 tool stored, 0 failed, 8 rows, 1 request" in first.output
        route.respond(200, text=dl.fixture_text("clickpy", "incremental_dagster.jsonl"))
        second = invoke(dl.FakeClock(dl.at("2025-03-11T08:00")))
        assert second.exit_code == 0, second.output
        assert "4 rows, 1 request" in second.output

    [got] = dl.query_db(
        db_path, "SELECT day, downloads FROM downloads_daily WHERE source = 'clickpy' ORDER BY day"
    )
    assert got == [
        (date(2019, 5, 2), 14),
        (date(2019, 5, 3), 31),
        (date(2019, 5, 4), 9),
        (date(2021, 4, 6), 5120),
        (date(2024, 12, 31), 61873),
        (date(2025, 3, 7), 190552),
        (date(2025, 3, 8), 98713),
        (date(2025, 3, 9), 95377),
        (date(2025, 3, 10), 187006),
    ]


# ---- property tests: any input parses or raises a TrackerError ----------------------------------

# ASCII digit strings only: Unicode digits such as '²' are the ValueError bug (edge test below)
counts = st.one_of(
    ints, st.from_regex(r"\A[0-9]{1,19}\Z"), st.text(alphabet="0123456789-+. e", max_size=8)
)
click_rows = st.fixed_dictionaries({}, optional={"date": days, "downloads": counts | json_values})
click_lines = st.one_of(
    click_rows.map(json.dumps),
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
    out = parse_outcome(lambda: clickpy.parse_daily(body, tool_id="t", package="p", url=ANY_URL))
    if isinstance(out, list):
        assert all(isinstance(r, DownloadRecord) and r.downloads >= 0 for r in out)
        assert len({r.day for r in out}) == len(out)
    elif "DB::Exception" in body:
        assert isinstance(out, TrackerError)


@pytest.mark.parametrize("count", ['"\\u00b2"', '"' + "1" * 5000 + '"', "1" * 5000])
def test_clickpy_count_that_int_rejects(count: str) -> None:
    body = '{"date": "2024-01-01", "downloads": ' + count + "}\n"
    crashes_cleanly(lambda: clickpy.parse_daily(body, tool_id="t", package="p", url=ANY_URL))
