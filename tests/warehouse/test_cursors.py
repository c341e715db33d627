"""The plan a collector gets: the same cursors as the stored rows, read once, immutable."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tracker.catalog import Tool
from tracker.collectors import base
from tracker.collectors.base import CollectContext
from tracker.config import load_settings
from tracker.records import (
    DemandRecord,
    DownloadRecord,
    HttpCacheRecord,
    ReleaseRecord,
    RepoSnapshotRecord,
    StarWeekRecord,
    ToolBatch,
    ToolOutcome,
)
from tracker.runner import run_collect
from tracker.warehouse.cursors import SourcePlan, read_plan

NOW = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)


def _snap(tool: str, at: datetime, stars: int) -> RepoSnapshotRecord:
    return RepoSnapshotRecord(tool, f"o/{tool}", at, stars, 1, 2, 3, False, None)


def _fill(store: Any) -> None:
    store.write_batch(
        ToolBatch(
            "airflow",
            downloads=(
                DownloadRecord("airflow", "apache-airflow", date(2026, 3, 9), 10, "pypistats"),
                DownloadRecord("airflow", "apache-airflow", date(2026, 3, 10), 12, "pypistats"),
                DownloadRecord("airflow", "apache-airflow", date(2026, 3, 10), 12, "clickpy"),
            ),
            star_weeks=(
                StarWeekRecord("airflow", "apache/airflow", date(2026, 2, 22), 5, "github"),
                StarWeekRecord("airflow", "apache/airflow", date(2026, 3, 1), 6, "github"),
            ),
            releases=(
                ReleaseRecord(
                    "airflow",
                    "github",
                    "apache/airflow",
                    "3.1",
                    NOW - timedelta(days=3),
                    False,
                    False,
                ),
                ReleaseRecord("airflow", "github", "apache/airflow", "0.1", None, False, False),
            ),
            snapshots=(
                _snap("airflow", NOW - timedelta(days=60), 100),
                _snap("airflow", NOW - timedelta(days=6), 150),
                _snap("airflow", NOW - timedelta(days=1), 160),
            ),
            http_cache=(
                HttpCacheRecord("https://x.test/a", '"e1"', None, NOW - timedelta(hours=2)),
            ),
            demand=(
                DemandRecord("airflow", "hn", date(2026, 1, 1), 3, 400),
                DemandRecord("airflow", "hn", date(2026, 2, 1), 4, 410),
            ),
        )
    )
    store.write_batch(
        ToolBatch("dagster", snapshots=(_snap("dagster", NOW - timedelta(days=90), 7),))
    )


JAN, FEB = date(2026, 1, 1), date(2026, 2, 1)


@pytest.mark.parametrize("source", ["pypistats", "github", "hn"])
def test_plan_gives_the_cursors_of_the_stored_rows(store: Any, source: str) -> None:
    _fill(store)
    plan = read_plan(store.con, source, ["airflow", "dagster"], NOW)
    own = {  # what only this source's rows give
        "pypistats": {"day": date(2026, 3, 10)},
        "github": {"week": date(2026, 3, 1), "release": NOW - timedelta(days=3)},
        "hn": {"months": {"airflow": frozenset({JAN, FEB})}, "totals": {JAN: 400, FEB: 410}},
    }[source]
    assert plan.last_download_day("airflow", "apache-airflow", source) == own.get("day")
    assert plan.last_star_week("airflow", source) == own.get("week")
    assert plan.last_release_at("airflow", source) == own.get("release")
    assert plan.demand_months(source) == own.get("months", {})
    assert plan.demand_totals(source) == own.get("totals", {})
    for cursor in (plan.last_star_week, plan.last_release_at):
        assert cursor("dagster", source) is None
    assert plan.last_download_day("dagster", "apache-airflow", source) is None
    # snapshots and the HTTP cache are not per source
    assert plan.latest_snapshot_record("airflow") == _snap("airflow", NOW - timedelta(days=1), 160)
    assert plan.latest_snapshot_record("dagster") == _snap("dagster", NOW - timedelta(days=90), 7)
    since = NOW - timedelta(days=14)
    assert plan.recent_snapshots("airflow", since) == (
        _snap("airflow", NOW - timedelta(days=6), 150),
        _snap("airflow", NOW - timedelta(days=1), 160),
    )
    assert plan.recent_snapshots("dagster", since) == ()
    url = "https://x.test/a"
    assert plan.http_validators(url) == ('"e1"', None)
    assert plan.http_fetched_at(url) == (NOW - timedelta(hours=2)).replace(tzinfo=None)
    assert plan.http_validators("https://x.test/none") == (None, None)
    assert plan.http_fetched_at("https://x.test/none") is None
    assert plan.requests_since(source, NOW - timedelta(hours=12)) == 0  # no run logged


def _demand(tool: str, source: str, month: date, mentions: int, total: int) -> DemandRecord:
    return DemandRecord(tool, source, month, mentions, total)


def test_demand_cursors_come_from_the_stored_rows_of_the_plans_source(store: Any) -> None:
    store.write_batch(
        ToolBatch(
            "airflow",
            demand=(
                _demand("airflow", "stackoverflow", JAN, 5, 50_000),
                _demand("airflow", "stackoverflow", FEB, 6, 48_000),
            ),
        )
    )
    store.write_batch(
        ToolBatch("dagster", demand=(_demand("dagster", "stackoverflow", FEB, 1, 48_000),))
    )
    store.write_batch(ToolBatch("dagster", demand=(_demand("dagster", "hn", FEB, 1, 300),)))

    def plan(source: str) -> SourcePlan:
        return read_plan(store.con, source, ["airflow", "dagster"], NOW)

    assert plan("stackoverflow").demand_months("stackoverflow") == {
        "airflow": frozenset({JAN, FEB}),
        "dagster": frozenset({FEB}),
    }
    assert plan("hn").demand_months("hn") == {"dagster": frozenset({FEB})}
    assert plan("stackoverflow").demand_totals("stackoverflow") == {JAN: 50_000, FEB: 48_000}
    assert plan("nothing").demand_months("nothing") == {}


def test_requests_since_sums_the_runs_of_the_plans_source(store: Any) -> None:
    clock = [datetime(2026, 3, 1, 23, 0, tzinfo=UTC)]
    store.clock = lambda: clock[0]
    yesterday = store.start_run("stackoverflow")
    store.finish_run(
        yesterday, status="partial", tools_ok=0, tools_failed=1, requests=250, rows_written=0
    )
    clock[0] = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    for requests, source in ((40, "stackoverflow"), (7, "hn"), (12, "stackoverflow")):
        run = store.start_run(source)
        store.finish_run(
            run, status="ok", tools_ok=1, tools_failed=0, requests=requests, rows_written=1
        )
    midnight = datetime(2026, 3, 2, tzinfo=UTC)

    def requests_since(source: str, since: datetime) -> int:
        return read_plan(store.con, source, [], clock[0]).requests_since(source, since)

    assert requests_since("stackoverflow", midnight) == 52
    assert requests_since("stackoverflow", midnight.replace(day=1)) == 302
    assert requests_since("hn", midnight) == 7
    assert requests_since("github", midnight) == 0


def test_plan_reads_only_its_tools_and_source_and_is_immutable(store: Any) -> None:
    _fill(store)
    plan = read_plan(store.con, "pypistats", ["dagster"], NOW)
    assert plan.last_download_day("airflow", "apache-airflow", "pypistats") is None
    assert plan.latest_snapshot_record("dagster") is not None  # its newest, however old
    assert plan.recent_snapshots("dagster", NOW - timedelta(days=14)) == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.source = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        plan.download_days[("a", "b", "c")] = date(2020, 1, 1)  # type: ignore[index]
    # asking outside the plan is a programming error, not a silent "no rows"
    with pytest.raises(ValueError, match="holds no cursors of 'hn'"):
        plan.demand_months("hn")
    with pytest.raises(ValueError, match="not in the plan"):
        plan.recent_snapshots("dagster", NOW - timedelta(days=40))


def test_the_plan_is_read_before_the_run_and_not_changed_by_its_writes(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The collector gets a SourcePlan (no store, no connection); rows the runner writes for the
    first tool do not appear in the plan the second tool is collected with."""
    seen: list[tuple[type, datetime | None]] = []
    released = datetime(2026, 3, 1, tzinfo=UTC)

    class Probe:
        name: ClassVar[str] = "apache"

        def applicable(self, tool: Tool) -> bool:
            return True

        def collect(self, ctx: CollectContext, tools: Sequence[Tool]) -> Iterator[ToolOutcome]:
            for tool in tools:
                seen.append((type(ctx.state), ctx.state.last_release_at("airflow", "apache")))
                rel = ReleaseRecord(tool.id, "apache", tool.id, "1.0", released, False, False)
                yield ToolBatch(tool.id, releases=(rel,))

    base.get_collector("apache")  # registers the real collectors first
    monkeypatch.setitem(base._REGISTRY, "apache", Probe)
    settings = dataclasses.replace(load_settings(), db_path=db_path)
    run_collect(settings, sources=["apache"], tool_ids=["airflow", "dagster"], clock=lambda: NOW)
    assert seen == [(SourcePlan, None), (SourcePlan, None)]
    # the next run plans with what this one stored
    run_collect(settings, sources=["apache"], tool_ids=["airflow", "dagster"], clock=lambda: NOW)
    assert seen[2:] == [(SourcePlan, released), (SourcePlan, released)]
