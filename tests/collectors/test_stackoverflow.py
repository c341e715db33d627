"""The stackoverflow source at the HTTP level (respx): filter=total counts, quota, backoff, errors."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from tests.collectors._demand_support import stored_demand, tool
from tests.collectors._downloads_support import (
    FIXTURES,
    FakeClock,
    at,
    fixture_text,
    make_ctx,
    mock_transport,
    run,
    store_all,
)
from tests.strategies import ANY_URL, FAST, ints, json_values, parse_outcome
from tracker.collectors import stackoverflow
from tracker.collectors._demand import add_months, iter_months
from tracker.collectors.base import CollectContext
from tracker.collectors.stackoverflow import (
    StackExchangeApi,
    StackoverflowCollector,
    month_window,
    parse_answer,
    parse_error,
    redact_key,
    throttle_wait,
)
from tracker.config import load_settings
from tracker.errors import ParseError, TrackerError
from tracker.records import DemandRecord, ToolBatch, ToolFailure

BASE = "https://stackexchange.test"
QUESTIONS = "/2.3/questions"
AIRFLOW = tool("airflow", tags=["apache-airflow", "airflow"])
DAGSTER = tool("dagster", tags=["dagster"])
PREFECT = tool("prefect", tags=["prefect"])


def _json(name: str) -> Any:
    return json.loads(fixture_text("stackoverflow", name))


def tag_count(tag: str | None, month: date) -> int:
    """The fake's questions for ``tag`` in ``month`` (None: the whole site)."""
    if tag is None:
        return 60_000 - 150 * (month.year - 2015) * 12 - month.month
    return int(hashlib.sha256(f"{tag}{month}".encode()).hexdigest()[:4], 16) % 400


class SeUpstream:
    """A respx router answering ``/2.3/questions?...&filter=total`` as Stack Exchange does."""

    def __init__(self) -> None:
        self.router = respx.MockRouter(assert_all_called=False, base_url=BASE)
        self.router.get(QUESTIONS).mock(side_effect=self._questions)
        self.asked: list[tuple[str | None, date]] = []
        self.params: list[dict[str, str]] = []
        self.quota_remaining: int | None = None  # None: not in the answer (filter=total)
        self.extra: dict[str, object] = {}  # wrapper fields for the next answer only
        self.answers: list[httpx.Response] = []  # queued answers, before the model's

    def _questions(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        self.params.append(params)
        assert params["site"] == "stackoverflow" and params["filter"] == "total"
        start = datetime.fromtimestamp(int(params["fromdate"]), UTC)
        month = start.date()
        assert start == datetime(month.year, month.month, 1, tzinfo=UTC)
        assert int(params["todate"]) == month_window(month)[1]
        tag = params.get("tagged")
        assert tag is None or ";" not in tag
        if self.answers:
            return self.answers.pop(0)
        self.asked.append((tag, month))
        payload: dict[str, object] = {"total": tag_count(tag, month), **self.extra}
        self.extra = {}
        if self.quota_remaining is not None:
            self.quota_remaining -= 1
            payload.update(quota_max=300, quota_remaining=self.quota_remaining)
        body = gzip.compress(json.dumps(payload).encode())
        return httpx.Response(
            200,
            content=body,
            headers={"Content-Type": "application/json; charset=utf-8", "Content-Encoding": "gzip"},
        )

    def collector(self) -> StackoverflowCollector:
        return StackoverflowCollector(transport=mock_transport(self.router))


def _ctx(store: Any, clock: FakeClock, key: str | None = None) -> CollectContext:
    """A context whose plan is read now (the source's months, totals and runs: not per tool)."""
    ctx = make_ctx(store, clock, "stackoverflow", [AIRFLOW, DAGSTER, PREFECT])
    if key:
        from dataclasses import replace

        ctx.settings = replace(load_settings(), stackexchange_key=key)
    return ctx


def _stored(store: Any) -> list[tuple[Any, ...]]:
    return stored_demand(store, "stackoverflow")


def _expected(tools: list[Any], months: list[date]) -> list[tuple[Any, ...]]:
    return sorted(
        (t.id, m, sum(tag_count(tag, m) for tag in t.stackoverflow_tags), tag_count(None, m))
        for t in tools
        for m in months
    )


def _log_run(store: Any, when: datetime, requests: int) -> None:
    """Record an earlier stackoverflow run that sent ``requests`` requests at ``when``."""
    saved = store.clock
    store.clock = lambda: when
    run_id = store.start_run("stackoverflow")
    store.finish_run(
        run_id, status="partial", tools_ok=0, tools_failed=1, requests=requests, rows_written=0
    )
    store.clock = saved


# ---- parsing ------------------------------------------------------------------------------


def test_parse_answers_and_errors_from_fixtures() -> None:
    assert parse_answer(_json("total.json"), url="u").total == 1342
    wrapped = parse_answer(_json("total_with_wrapper.json"), url="u")
    assert (wrapped.total, wrapped.backoff, wrapped.quota_remaining, wrapped.quota_max) == (
        57,
        10.0,
        12,
        300,
    )
    assert parse_error(_json("total.json")) is None
    err = parse_error(_json("error_throttle_violation.json"))
    assert err is not None and (err.error_id, err.name) == (502, "throttle_violation")
    assert throttle_wait(err.message) == 86291.0
    assert throttle_wait("too many requests from this IP") is None
    bad = parse_error(_json("error_bad_parameter_tagged.json"))
    assert bad is not None and (bad.error_id, bad.name, bad.message) == (
        400,
        "bad_parameter",
        "tagged",
    )


@pytest.mark.parametrize("payload", [[], {}, {"total": -1}, {"total": "12"}, {"total": True}])
def test_parse_answer_rejects_odd_totals(payload: object) -> None:
    with pytest.raises(ParseError):
        parse_answer(payload, url="u")


def test_month_window_is_the_utc_month_second_by_second() -> None:
    assert month_window(date(2015, 1, 1)) == (1420070400, 1422748799)
    assert month_window(date(2024, 12, 1)) == (1733011200, 1735689599)


def test_gzip_answer_as_it_travels() -> None:
    router = respx.MockRouter(assert_all_called=False, base_url=BASE)
    router.get(QUESTIONS).mock(
        return_value=httpx.Response(
            200,
            content=(FIXTURES / "stackoverflow" / "total.json.gz").read_bytes(),
            headers={"Content-Type": "application/json; charset=utf-8", "Content-Encoding": "gzip"},
        )
    )
    clock = FakeClock(at("2025-03-10T09:00"))
    from tracker.collectors.base import RequestCounter

    counter = RequestCounter()
    with httpx.Client(base_url=BASE, transport=mock_transport(router)) as client:
        api = StackExchangeApi(
            client, key=None, used_before=0, counter=counter, sleep=clock.sleep, now=clock.now
        )
        assert api.question_count(date(2025, 2, 1), "apache-airflow") == 1342


def test_redact_key() -> None:
    assert (
        redact_key("https://x/2.3/questions?site=so&key=abc((def&filter=total")
        == "https://x/2.3/questions?site=so&key=***&filter=total"
    )


# ---- collecting ---------------------------------------------------------------------------


def test_backfill_newest_months_first_with_exact_sums_then_nothing_then_one_month(
    store: Any,
) -> None:
    upstream = SeUpstream()
    clock = FakeClock(at("2015-07-10T06:00"))
    ctx = _ctx(store, clock)
    tools = [AIRFLOW, DAGSTER]

    outcomes = run(upstream.collector(), ctx, tools)
    store_all(store, outcomes)

    months = list(iter_months(date(2015, 1, 1), date(2015, 6, 1)))  # complete months only
    assert _stored(store) == _expected(tools, months)
    assert ctx.requests.value == 6 * 4  # a site total and three tags a month
    assert upstream.asked[:4] == [
        (None, date(2015, 6, 1)),
        ("apache-airflow", date(2015, 6, 1)),
        ("airflow", date(2015, 6, 1)),
        ("dagster", date(2015, 6, 1)),
    ]
    assert [m for _, m in upstream.asked] == sorted((m for _, m in upstream.asked), reverse=True)
    assert all(isinstance(o, ToolBatch) and not o.errors for o in outcomes)
    assert all("key" not in p for p in upstream.params)

    # the same day again: everything is stored, nothing is asked
    ctx2 = _ctx(store, clock)
    assert all(
        isinstance(o, ToolBatch) and not o.demand and not o.errors
        for o in run(upstream.collector(), ctx2, tools)
    )
    assert ctx2.requests.value == 0

    # a month later: July is complete and costs one site total and one request per tag
    clock.start = at("2015-08-02T06:00")
    ctx3 = _ctx(store, clock)
    store_all(store, run(upstream.collector(), ctx3, tools))
    assert ctx3.requests.value == 4
    assert _stored(store) == _expected(tools, [*months, date(2015, 7, 1)])


def test_quota_stops_cleanly_and_the_next_day_resumes_without_duplicates(store: Any) -> None:
    upstream = SeUpstream()
    clock = FakeClock(at("2015-07-10T06:00"))
    _log_run(store, at("2015-07-10T01:00"), 290)  # this day's earlier runs
    _log_run(store, at("2015-07-09T23:00"), 300)  # yesterday's do not count
    tools = [AIRFLOW, DAGSTER]
    ctx = _ctx(store, clock)

    outcomes = run(upstream.collector(), ctx, tools)
    store_all(store, outcomes)

    # 10 left: June (4) and May (4); April would need 4 more
    assert ctx.requests.value == 8
    assert _stored(store) == _expected(tools, [date(2015, 5, 1), date(2015, 6, 1)])
    reason = (
        "Stack Exchange quota exhausted (298 of 300 requests a day used without "
        "TRACKER_STACKEXCHANGE_KEY), run again after 2015-07-11T00:00Z"
    )
    for outcome in outcomes:
        assert isinstance(outcome, ToolBatch)
        assert outcome.errors == (
            f"not fully collected: {reason}; 4 month(s) 2015-01..2015-04 left",
        )

    # a tool that gets no month at all is "not collected" with the same reason
    _log_run(store, at("2015-07-10T06:30"), 10)  # the first run (8) and 2 more: 300 today
    ctx_full = _ctx(store, clock)
    [failure] = run(upstream.collector(), ctx_full, [PREFECT])
    assert ctx_full.requests.value == 0
    assert failure == ToolFailure(
        "prefect",
        "not collected: Stack Exchange quota exhausted (300 of 300 requests a day used "
        "without TRACKER_STACKEXCHANGE_KEY), run again after 2015-07-11T00:00Z",
    )

    # the next day: the missing months only; the stored months' site totals are not asked again
    upstream.asked.clear()
    clock.start = at("2015-07-11T06:00")
    ctx2 = _ctx(store, clock)
    store_all(store, run(upstream.collector(), ctx2, tools))
    assert ctx2.requests.value == 16
    assert {m for _, m in upstream.asked} == set(iter_months(date(2015, 1, 1), date(2015, 4, 1)))
    assert _stored(store) == _expected(tools, list(iter_months(date(2015, 1, 1), date(2015, 6, 1))))
    assert len(_stored(store)) == len(set(_stored(store)))


def test_quota_remaining_in_an_answer_wins_over_the_own_count(store: Any) -> None:
    upstream = SeUpstream()
    upstream.quota_remaining = 6  # the API says: 5 left after the first answer
    ctx = _ctx(store, FakeClock(at("2015-07-10T06:00")), key="k3y((")
    outcomes = run(upstream.collector(), ctx, [AIRFLOW])
    store_all(store, outcomes)
    # June: 3 (remaining 3), May: 3 (remaining 0); no request is sent with nothing left
    assert ctx.requests.value == 6
    assert upstream.quota_remaining == 0
    [batch] = outcomes
    assert isinstance(batch, ToolBatch) and len(batch.demand) == 2
    assert batch.errors[0].startswith(
        "not fully collected: Stack Exchange quota exhausted (quota_remaining 0 of 300), "
        "run again after 2015-07-11T00:00Z"
    )
    assert all(p["key"] == "k3y((" for p in upstream.params)


def test_backoff_is_waited_before_the_next_call(store: Any) -> None:
    upstream = SeUpstream()
    upstream.extra = {"backoff": 10}
    clock = FakeClock(at("2015-02-10T06:00"))  # one month: January
    outcomes = run(upstream.collector(), _ctx(store, clock), [DAGSTER])
    assert isinstance(outcomes[0], ToolBatch) and len(outcomes[0].demand) == 1
    assert clock.sleeps == [10.0]
    assert len(upstream.asked) == 2


def test_a_backoff_too_long_to_wait_ends_the_run(store: Any) -> None:
    upstream = SeUpstream()
    upstream.extra = {"backoff": 7200}
    clock = FakeClock(at("2015-02-10T06:00"))
    [failure] = run(upstream.collector(), _ctx(store, clock), [DAGSTER])
    assert clock.sleeps == []
    assert failure == ToolFailure(
        "dagster",
        "not collected: Stack Exchange asked to back off /2.3/questions for 7200s, "
        "run again after 2015-02-10T08:00Z",
    )


def _error(name: str, status: int = 400) -> httpx.Response:
    return httpx.Response(status, json=_json(name))


def test_short_throttle_is_slept_and_the_call_repeated(store: Any) -> None:
    upstream = SeUpstream()
    upstream.answers = [_error("error_throttle_short.json")]
    clock = FakeClock(at("2015-02-10T06:00"))
    ctx = _ctx(store, clock)
    outcomes = run(upstream.collector(), ctx, [DAGSTER])
    store_all(store, outcomes)
    assert clock.sleeps == [2.0]
    assert ctx.requests.value == 3
    assert _stored(store) == _expected([DAGSTER], [date(2015, 1, 1)])


def test_throttle_violation_with_a_long_wait_is_a_quota_stop(store: Any) -> None:
    upstream = SeUpstream()
    upstream.answers = [_error("error_throttle_violation.json")]
    clock = FakeClock(at("2015-03-10T06:00"))
    ctx = _ctx(store, clock)
    [failure] = run(upstream.collector(), ctx, [DAGSTER])
    reset = (at("2015-03-10T06:00") + timedelta(seconds=86291)).strftime("%Y-%m-%dT%H:%MZ")
    assert failure == ToolFailure(
        "dagster",
        "not collected: Stack Exchange quota exhausted (throttle_violation: too many requests "
        f"from this IP, more requests available in 86291 seconds), run again after {reset}",
    )
    assert ctx.requests.value == 1 and clock.sleeps == []


def test_a_refused_tag_fails_only_its_tool(store: Any) -> None:
    upstream = SeUpstream()
    original = upstream._questions

    def refuse(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("tagged") == "airflow":
            return _error("error_bad_parameter_tagged.json")
        return original(request)

    upstream.router.get(QUESTIONS).mock(side_effect=refuse)
    ctx = _ctx(store, FakeClock(at("2015-03-10T06:00")))
    outcomes = run(upstream.collector(), ctx, [AIRFLOW, DAGSTER])
    store_all(store, outcomes)
    assert isinstance(outcomes[0], ToolFailure)
    assert outcomes[0].error.startswith(
        "stackoverflow: HTTP 400 from https://stackexchange.test/2.3/questions "
        "(airflow, 2015-02): bad_parameter (400) for tag 'airflow': tagged"
    )
    assert _stored(store) == _expected([DAGSTER], [date(2015, 1, 1), date(2015, 2, 1)])
    # the refused tag was asked once: the tool is skipped for the rest of the run
    # February: the total, apache-airflow, airflow (refused), dagster; January: total, dagster
    assert ctx.requests.value == 6


def test_an_invalid_key_ends_the_source_with_the_api_message(store: Any) -> None:
    upstream = SeUpstream()
    upstream.router.get(QUESTIONS).mock(return_value=_error("error_bad_parameter_key.json"))
    ctx = _ctx(store, FakeClock(at("2015-03-10T06:00")), key="wrong")
    outcomes = run(upstream.collector(), ctx, [AIRFLOW, DAGSTER])
    assert ctx.requests.value == 1
    assert all(
        isinstance(o, ToolFailure)
        and o.error
        == "not collected: stackoverflow: HTTP 400 from https://stackexchange.test/2.3/questions"
        " (all questions, 2015-02): bad_parameter (400): key"
        for o in outcomes
    )


def test_server_errors_are_retried_then_end_the_source(store: Any) -> None:
    upstream = SeUpstream()
    upstream.router.get(QUESTIONS).mock(return_value=_error("error_internal.json", 500))
    clock = FakeClock(at("2015-03-10T06:00"))
    ctx = _ctx(store, clock)
    outcomes = run(upstream.collector(), ctx, [DAGSTER])
    assert ctx.requests.value == 5 and len(clock.sleeps) == 4
    [failure] = outcomes
    assert isinstance(failure, ToolFailure)
    assert "internal_error (500): An internal error occurred." in failure.error


def test_shared_tags_and_stored_site_totals_are_not_asked_twice(store: Any) -> None:
    upstream = SeUpstream()
    spark = tool("spark", tags=["apache-spark"])
    pyspark = tool("pyspark", tags=["apache-spark", "pyspark"])
    months = list(iter_months(date(2015, 1, 1), date(2015, 2, 1)))
    # another tool's rows already hold the site totals of both months
    store.write_batch(
        ToolBatch(
            "dagster",
            demand=tuple(
                DemandRecord("dagster", "stackoverflow", m, 1, tag_count(None, m)) for m in months
            ),
        )
    )
    ctx = _ctx(store, FakeClock(at("2015-03-10T06:00")))
    store_all(store, run(upstream.collector(), ctx, [spark, pyspark]))
    assert sorted(upstream.asked, key=str) == sorted(
        [(tag, m) for m in months for tag in ("apache-spark", "pyspark")], key=str
    )
    got = [r for r in _stored(store) if r[0] != "dagster"]
    assert got == _expected([pyspark, spark], months)


def test_the_key_never_reaches_the_logs(store: Any, caplog: pytest.LogCaptureFixture) -> None:
    upstream = SeUpstream()
    upstream.answers = [_error("error_throttle_short.json")]
    secret = "Sentinel((Key"
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpx").setLevel(logging.DEBUG)
    ctx = _ctx(store, FakeClock(at("2015-02-10T06:00")), key=secret)
    outcomes = run(upstream.collector(), ctx, [DAGSTER])
    assert all(p.get("key") == secret for p in upstream.params)
    assert "HTTP Request" in caplog.text  # httpx did log the requests
    assert secret not in caplog.text and "Sentinel" not in caplog.text
    assert secret not in repr(outcomes)
    assert secret not in repr(ctx.settings)


def test_only_tools_with_tags_apply() -> None:
    collector = StackoverflowCollector()
    assert collector.applicable(AIRFLOW)
    assert not collector.applicable(tool("sacred"))


def test_months_before_2015_are_never_asked(store: Any) -> None:
    upstream = SeUpstream()
    ctx = _ctx(store, FakeClock(at("2015-01-20T06:00")))  # no complete month yet
    outcomes = run(upstream.collector(), ctx, [DAGSTER])
    assert ctx.requests.value == 0
    assert outcomes == [ToolBatch("dagster", counters=(("months_stored", 0),))]
    assert add_months(date(2015, 1, 1), -1) == date(2014, 12, 1)


@pytest.mark.parametrize("backoff", [float("inf"), 2**70, 1e300])
def test_absurd_backoff_values_do_not_crash(store: Any, backoff: float) -> None:
    upstream = SeUpstream()
    upstream.extra = {"backoff": backoff}
    [outcome] = run(upstream.collector(), _ctx(store, FakeClock(at("2015-02-10T06:00"))), [DAGSTER])
    # infinite: ignored; huge: capped at a week, too long to wait: the run ends cleanly
    assert isinstance(outcome, (ToolBatch, ToolFailure))


# ---- property tests: any input parses or raises a TrackerError ----------------------------------


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

    result = parse_outcome(lambda: stackoverflow.parse_answer(payload, url=ANY_URL))
    if not isinstance(result, TrackerError):
        assert result.total >= 0
        assert result.backoff is None or result.backoff >= 0
    error = stackoverflow.parse_error(payload)
    if error is not None:
        stackoverflow.throttle_wait(error.message)
