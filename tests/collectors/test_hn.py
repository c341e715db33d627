"""The hn source at the HTTP level (respx): Algolia listing and thread payloads, matching, budget."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from tests.collectors._demand_support import (
    Thread,
    item_answer,
    listing_hits,
    monthly_threads,
    search_answer,
    stored_demand,
    tool,
)
from tests.collectors._downloads_support import (
    FakeClock,
    at,
    collect,
    fixture_text,
    make_ctx,
    mock_transport,
    run,
    store_all,
)
from tests.strategies import ANY_URL, FAST, ints, json_values, parse_outcome
from tracker.catalog.job_matcher import JobMatcher
from tracker.collectors import hn
from tracker.collectors._demand import DEMAND_SINCE, iter_months
from tracker.collectors.hn import (
    HiringThread,
    HnCollector,
    choose_threads,
    hiring_month,
    parse_listing,
    parse_thread,
)
from tracker.errors import ParseError, TrackerError
from tracker.records import DemandRecord, ToolBatch, ToolFailure

BASE = "https://hn.test"
SEARCH = "/api/v1/search_by_date"
AIRFLOW = tool("airflow", cased=["Airflow"])  # exact case: HVAC's "airflow" is not the tool
DAGSTER = tool("dagster", terms=["Dagster"])
TERRAFORM = tool("terraform", terms=["Terraform"], skill="infrastructure")
KUBERNETES = tool("kubernetes", terms=["Kubernetes", "k8s"], skill="infrastructure")
TOOLS = [AIRFLOW, DAGSTER, TERRAFORM, KUBERNETES]


def _json(name: str) -> Any:
    return json.loads(fixture_text("hn", name))


class Upstream:
    """A respx router serving a list of monthly threads the way Algolia does."""

    def __init__(self, threads: list[Thread], *, failing: dict[int, httpx.Response] | None = None):
        self.threads = {t.story_id: t for t in threads}
        self.failing = failing or {}
        self.router = respx.MockRouter(assert_all_called=False, base_url=BASE)
        self.router.get(SEARCH).mock(side_effect=self._search)
        self.router.get(url__regex=r"/api/v1/items/\d+$").mock(side_effect=self._item)
        self.paths: list[str] = []

    def _search(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        params = dict(request.url.params)
        assert params["tags"] == "story,author_whoishiring"
        return httpx.Response(
            200, json=search_answer(listing_hits(list(self.threads.values())), params, 500)
        )

    def _item(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        story_id = int(request.url.path.rsplit("/", 1)[1])
        if story_id in self.failing:
            return self.failing[story_id]
        thread = self.threads.get(story_id)
        if thread is None:
            return httpx.Response(404, json={"status": 404, "error": "Not Found"})
        return httpx.Response(200, json=item_answer(thread))

    def collector(self, **kw: Any) -> HnCollector:
        return HnCollector(transport=mock_transport(self.router), **kw)

    @property
    def items_read(self) -> list[int]:
        return [int(p.rsplit("/", 1)[1]) for p in self.paths if "/items/" in p]


def _stored(store: Any) -> list[tuple[Any, ...]]:
    return stored_demand(store, "hn")


def _expected(threads: list[Thread], tools: list[Any]) -> list[tuple[Any, ...]]:
    out = []
    for t in tools:
        matcher = JobMatcher.from_tools([t])
        for th in threads:
            posts = [p for p in th.posts if p]
            out.append((t.id, th.month, sum(1 for p in posts if matcher.match(p)), len(posts)))
    return sorted(out)


def _store_years_before_2024(store: Any) -> None:
    """Store every tool's months from DEMAND_SINCE to 2023-12 (as an earlier run would)."""
    for t in TOOLS:
        months = iter_months(DEMAND_SINCE, date(2023, 12, 1))
        store.write_batch(
            ToolBatch(t.id, demand=tuple(DemandRecord(t.id, "hn", m, 0, 1) for m in months))
        )


def _posts(month: date) -> list[str | None]:
    """A deterministic mix of posts for ``month`` (one deleted comment every third month)."""
    n = month.month + month.year % 5
    posts: list[str | None] = [
        f"Co{i} | Data Engineer | REMOTE<p>We use {'Airflow' if i % 2 else 'Dagster'}"
        f"{' and Terraform' if i % 3 == 0 else ''} on {'k8s' if i % 4 == 0 else 'VMs'}."
        for i in range(n)
    ]
    posts.append("HVAC tech wanted: balance airflow in offices.")
    if month.month % 3 == 0:
        posts.append(None)
    return posts


# ---- parsing --------------------------------------------------------------------------------


def test_parse_listing_keeps_only_the_hiring_threads() -> None:
    page = parse_listing(_json("search_whoishiring.json"), url="u")
    assert [(t.story_id, t.month, t.num_comments) for t in page.threads] == [
        (43243024, date(2025, 3, 1), 690),
        (42919502, date(2025, 2, 1), 714),
    ]
    assert page.hits == 6 and page.nb_hits == 6 and len(page.ids) == 6
    assert page.oldest_ts == int(datetime(2025, 2, 3, 16, 0, 2, tzinfo=UTC).timestamp())
    empty = parse_listing(_json("search_empty.json"), url="u")
    assert empty.threads == () and empty.hits == 0


@pytest.mark.parametrize(
    ("title", "month"),
    [
        ("Ask HN: Who is hiring? (January 2015)", date(2015, 1, 1)),
        ("Ask HN: Who is Hiring? (Sept 2019)", date(2019, 9, 1)),
        ("  ask hn: who is hiring? (December 2024)", date(2024, 12, 1)),
        ("Ask HN: Who is hiring?", date(2023, 5, 1)),  # no month in the title: posting month
        ("Ask HN: Who is hiring? (Smarch 2020)", date(2023, 5, 1)),
        ("Ask HN: Who wants to be hired? (May 2023)", None),
        ("Ask HN: Freelancer? Seeking freelancer? (May 2023)", None),
        ("Tell HN: Who is hiring? threads moved", None),
    ],
)
def test_hiring_month_reads_the_title(title: str, month: date | None) -> None:
    assert hiring_month(title, at("2023-05-01T16:00")) == month


def test_choose_threads_takes_the_busiest_story_of_a_month() -> None:
    feb = date(2025, 2, 1)
    a = HiringThread(1, feb, "Ask HN: Who is hiring? (February 2025)", at("2025-02-03T16:00"), 10)
    b = HiringThread(2, feb, "Ask HN: Who is hiring? (February 2025)", at("2025-02-03T16:05"), 700)
    c = HiringThread(3, feb, "Ask HN: Who is hiring? (February 2025)", at("2025-02-04T16:00"), 700)
    assert choose_threads([a, b, c]) == {feb: b}


def test_parse_thread_counts_top_level_posts_with_text_only() -> None:
    posts = parse_thread(_json("item_42919502.json"), story_id=42919502, url="u")
    # six top-level comments: one deleted (with a reply), one removed; replies are not posts
    assert len(posts) == 4
    assert posts[0].startswith("Acme Analytics | Senior Data Engineer")
    assert all("contractors" not in p for p in posts)


@pytest.mark.parametrize(
    "payload",
    [[], {"id": 42919502}, {"id": 42919502, "children": {}}, {"id": 7, "children": []}],
)
def test_parse_thread_rejects_odd_payloads(payload: object) -> None:
    with pytest.raises(ParseError):
        parse_thread(payload, story_id=42919502, url="u")


# ---- collecting -----------------------------------------------------------------------------


def test_fixture_thread_is_counted_exactly(store: Any) -> None:
    router = respx.MockRouter(assert_all_called=False, base_url=BASE)
    router.get(SEARCH).mock(return_value=httpx.Response(200, json=_json("search_whoishiring.json")))
    router.get("/api/v1/items/42919502").mock(
        return_value=httpx.Response(200, json=_json("item_42919502.json"))
    )
    march = Thread(date(2025, 3, 1), 43243024, ["Kubernetes and k8s, twice in one post", None])
    router.get("/api/v1/items/43243024").mock(
        return_value=httpx.Response(200, json=item_answer(march))
    )
    clock = FakeClock(at("2025-03-10T09:00"))
    collector = HnCollector(transport=mock_transport(router))

    outcomes = collect(collector, store, clock, TOOLS)
    store_all(store, outcomes)

    feb, mar = date(2025, 2, 1), date(2025, 3, 1)
    assert _stored(store) == [
        ("airflow", feb, 1, 4),  # Acme; not the HVAC post, not the reply
        ("airflow", mar, 0, 1),
        ("dagster", feb, 1, 4),  # Modelworks; not the reply under the deleted comment
        ("dagster", mar, 0, 1),
        ("kubernetes", feb, 2, 4),
        ("kubernetes", mar, 1, 1),  # a post naming a tool twice counts once
        ("terraform", feb, 2, 4),
        ("terraform", mar, 0, 1),
    ]
    first = outcomes[0]
    assert isinstance(first, ToolBatch) and not first.errors
    assert (
        first.warnings
        and "no 'Ask HN: Who is hiring?' thread found for 121 month(s)" in (first.warnings[0])
    )
    assert dict(first.counters) == {"threads_read": 2, "posts_read": 5}


def test_first_run_for_120_months_costs_at_most_130_requests_then_3(store: Any) -> None:
    months = list(iter_months(DEMAND_SINCE, date(2024, 12, 1)))
    assert len(months) == 120
    threads = monthly_threads(months, {m: _posts(m) for m in months})
    upstream = Upstream(threads)
    clock = FakeClock(at("2024-12-15T06:00"))
    ctx = make_ctx(store, clock, "hn", TOOLS)

    outcomes = run(upstream.collector(), ctx, TOOLS)
    store_all(store, outcomes)

    assert ctx.requests.value <= 130
    assert ctx.requests.value == 121  # one listing page + one thread a month
    assert all(isinstance(o, ToolBatch) and not o.errors and not o.warnings for o in outcomes)
    assert _stored(store) == _expected(threads, TOOLS)

    # the next day: only the current and the previous month are read again
    upstream.paths.clear()
    clock.elapsed += 86_400
    ctx2 = make_ctx(store, clock, "hn", TOOLS)
    store_all(store, run(upstream.collector(), ctx2, TOOLS))
    assert ctx2.requests.value == 3
    assert upstream.items_read == [threads[-1].story_id, threads[-2].story_id]
    assert _stored(store) == _expected(threads, TOOLS)


def test_a_new_month_and_a_grown_thread_are_picked_up(store: Any) -> None:
    months = list(iter_months(date(2024, 1, 1), date(2024, 12, 1)))
    threads = monthly_threads(months, {m: _posts(m) for m in months})
    upstream = Upstream(threads)
    clock = FakeClock(at("2024-12-02T06:00"))
    _store_years_before_2024(store)  # only 2024 is read
    store_all(store, collect(upstream.collector(), store, clock, TOOLS))
    assert len(upstream.items_read) == 12

    # December's thread grows by three posts (one names Airflow, one is deleted), and January
    # opens; the next run reads December again and January for the first time
    threads[-1].posts += ["Airflow shop, REMOTE", None, "Rust only"]
    january = monthly_threads([date(2025, 1, 1)], {date(2025, 1, 1): ["Dagster, NYC"]})[0]
    january.story_id = 40_000_000
    upstream.threads[january.story_id] = january
    upstream.paths.clear()
    clock.start = at("2025-01-02T06:00")
    store_all(store, collect(upstream.collector(), store, clock, TOOLS))

    assert upstream.items_read == [january.story_id, threads[-1].story_id]
    got = {
        (r[0], r[1]): r[2:]
        for r in _stored(store)
        if r[1] >= date(2024, 12, 1)  # the months of the second run
    }
    dec = threads[-1]
    dec_posts = [p for p in dec.posts if p]
    assert got[("airflow", date(2024, 12, 1))] == (
        sum(1 for p in dec_posts if "Airflow" in p),
        len(dec_posts),
    )
    assert got[("dagster", date(2025, 1, 1))] == (1, 1)
    assert got[("airflow", date(2025, 1, 1))] == (0, 1)


def test_listing_pages_by_time_when_a_page_is_full() -> None:
    months = list(iter_months(date(2020, 1, 1), date(2024, 12, 1)))
    threads = monthly_threads(months, {})
    upstream = Upstream(threads)
    collector = upstream.collector(page_size=40)  # 180 stories: 40 a page
    client = httpx.Client(base_url=BASE, transport=mock_transport(upstream.router))
    found = collector.list_threads(client, date(2020, 1, 1))
    assert sorted(found) == months
    assert {m: t.story_id for m, t in found.items()} == {t.month: t.story_id for t in threads}
    searches = [p for p in upstream.paths if p == SEARCH]
    assert 5 <= len(searches) <= 6  # 180 stories, 40 a page, one overlap story a page


def test_a_month_that_keeps_failing_costs_only_that_month(store: Any) -> None:
    months = list(iter_months(date(2024, 1, 1), date(2024, 12, 1)))
    threads = monthly_threads(months, {m: _posts(m) for m in months})
    june = next(t for t in threads if t.month == date(2024, 6, 1))
    upstream = Upstream(
        threads, failing={june.story_id: httpx.Response(500, text="<html>oops</html>")}
    )
    clock = FakeClock(at("2024-12-15T06:00"))
    _store_years_before_2024(store)

    outcomes = collect(upstream.collector(), store, clock, TOOLS)
    store_all(store, outcomes)

    assert all(isinstance(o, ToolBatch) for o in outcomes)
    batch = outcomes[0]
    assert isinstance(batch, ToolBatch)
    assert len(batch.demand) == 11
    assert len(batch.errors) == 1 and batch.errors[0].startswith("2024-06: hn: HTTP 500 from")
    assert upstream.items_read.count(june.story_id) == 5  # the shared retry policy: 4 retries
    assert len(clock.sleeps) == 4
    stored_2024 = [r for r in _stored(store) if r[1].year == 2024]
    assert stored_2024 == _expected([t for t in threads if t is not june], TOOLS)


def test_listing_failure_fails_every_tool(store: Any) -> None:
    router = respx.MockRouter(assert_all_called=False, base_url=BASE)
    router.get(SEARCH).mock(return_value=httpx.Response(200, text="<html>maintenance</html>"))
    collector = HnCollector(transport=mock_transport(router))
    outcomes = collect(collector, store, FakeClock(at("2024-12-15T06:00")), TOOLS)
    assert [type(o) for o in outcomes] == [ToolFailure] * 4
    assert all(
        isinstance(o, ToolFailure)
        and re.search(r"not collected: listing failed: hn: HTTP 200 from .*: invalid JSON", o.error)
        for o in outcomes
    )


def test_stop_requested_leaves_the_rest_for_the_next_run(store: Any) -> None:
    months = list(iter_months(date(2024, 1, 1), date(2024, 12, 1)))
    threads = monthly_threads(months, {m: _posts(m) for m in months})
    upstream = Upstream(threads)
    ctx = make_ctx(store, FakeClock(at("2024-12-15T06:00")), "hn", [AIRFLOW])
    ctx.stop_requested = lambda: len(upstream.items_read) >= 3
    outcomes = run(upstream.collector(), ctx, [AIRFLOW])
    batch = outcomes[0]
    assert isinstance(batch, ToolBatch)
    assert [r.month for r in batch.demand] == [
        date(2024, 10, 1),
        date(2024, 11, 1),
        date(2024, 12, 1),
    ]
    assert batch.errors[-1] == "9 month(s) not read (stop requested)"


def test_only_tools_with_job_terms_apply() -> None:
    collector = HnCollector()
    assert collector.applicable(AIRFLOW)
    assert not collector.applicable(tool("sacred"))


# ---- property tests: any input parses or raises a TrackerError ----------------------------------

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

    result = parse_outcome(lambda: hn.parse_listing(payload, url=ANY_URL))
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

    result = parse_outcome(lambda: hn.parse_thread(payload, story_id=7, url=ANY_URL))
    if not isinstance(result, TrackerError):
        assert all(isinstance(p, str) and p.strip() for p in result)
