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


@pytest.mark.parametrize("source", ["pypistats", "github", "hn"])
def test_plan_gives_the_same_cursors_as_the_stored_rows(store: Any, source: str) -> None:
    _fill(store)
    plan = read_plan(store.con, source, ["airflow", "dagster"], NOW)
    tools = ("airflow", "dagster")
    for tool in tools:
        assert plan.last_download_day(tool, "apache-airflow", source) == store.last_download_day(
            tool, "apache-airflow", source
        )
        assert plan.last_star_week(tool, source) == store.last_star_week(tool, source)
        assert plan.last_release_at(tool, source) == store.last_release_at(tool, source)
        assert plan.latest_snapshot_record(tool) == store.latest_snapshot_record(tool)
        since = NOW - timedelta(days=14)
        assert plan.recent_snapshots(tool, since) == store.recent_snapshots(tool, since)
    url = "https://x.test/a"
    assert plan.http_validators(url) == store.http_validators(url) == ('"e1"', None)
    assert plan.http_fetched_at(url) == store.http_fetched_at(url)
    assert plan.http_validators("https://x.test/none") == (None, None)
    assert plan.demand_months(source) == store.demand_months(source)
    assert plan.demand_totals(source) == store.demand_totals(source)
    assert plan.requests_since(source, NOW - timedelta(hours=12)) == store.requests_since(
        source, NOW - timedelta(hours=12)
    )


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
