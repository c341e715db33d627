"""tracker/source_run.py: outcomes handed over from the collector's thread, stored in groups."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from tracker.collectors.base import CollectContext
from tracker.config import load_settings
from tracker.records import (
    DownloadRecord,
    ReleaseRecord,
    ToolBatch,
    ToolFailure,
    ToolOutcome,
)
from tracker.source_run import GROUP_TOOLS, SourceRun, in_groups


def _batch(tool: str, version: str = "1.0") -> ToolBatch:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    return ToolBatch(
        tool, releases=(ReleaseRecord(tool, "pypi", tool, version, when, False, False),)
    )


def test_what_queued_up_together_comes_as_one_group_in_order() -> None:
    first_taken, third_queued = threading.Event(), threading.Event()

    def outcomes() -> Iterator[ToolOutcome]:
        yield _batch("a")
        first_taken.wait()
        yield _batch("b")
        yield ToolFailure("c", "boom")
        third_queued.set()  # resumed only after "c" was handed over
        yield _batch("d")

    groups = in_groups(outcomes(), threading.Event())
    assert [o.tool_id for o in next(groups)] == ["a"]
    first_taken.set()
    third_queued.wait()
    rest = [[o.tool_id for o in g] for g in groups]
    assert rest[0][:2] == ["b", "c"]  # ready together: one group
    assert [t for g in rest for t in g] == ["b", "c", "d"]


def test_groups_are_bounded_and_keep_every_outcome() -> None:
    outcomes = [_batch(f"t{i:03d}") for i in range(3 * GROUP_TOOLS + 5)]
    groups = list(in_groups(iter(outcomes), threading.Event()))
    assert all(1 <= len(g) <= GROUP_TOOLS for g in groups)
    assert [o for g in groups for o in g] == outcomes


def test_a_collector_error_comes_after_the_outcomes_before_it() -> None:
    def outcomes() -> Iterator[ToolOutcome]:
        yield _batch("a")
        raise RuntimeError("collector bug")

    seen: list[str] = []
    with pytest.raises(RuntimeError, match="collector bug"):
        for group in in_groups(outcomes(), threading.Event()):
            seen += [o.tool_id for o in group]
    assert seen == ["a"]


def test_leaving_early_ends_the_collector_on_its_own_thread() -> None:
    closed_on: list[str] = []

    def outcomes() -> Iterator[ToolOutcome]:
        try:
            n = 0
            while True:
                n += 1
                yield _batch(f"t{n}")
        finally:
            closed_on.append(threading.current_thread().name)

    groups = in_groups(outcomes(), threading.Event())
    next(groups)
    groups.close()
    assert closed_on == ["collect"]


def test_a_bad_batch_in_a_group_fails_alone(store: Any) -> None:
    ctx = CollectContext(settings=load_settings(), state=None)
    run = SourceRun(load_settings(), store, "pypi", store.start_run("pypi"), ctx)
    bad = ToolBatch(
        "dagster",
        downloads=(DownloadRecord("dagster", "dagster", date(2025, 1, 1), None, "pypi"),),
    )  # type: ignore[arg-type]
    run.store_group([_batch("airflow"), bad, ToolFailure("luigi", "HTTP 500"), _batch("prefect")])
    stored = store.con.execute("SELECT tool_id FROM releases ORDER BY 1").fetchall()
    assert stored == [("airflow",), ("prefect",)]
    result = run.result
    assert (result.tools_ok, result.tools_failed, result.rows_written) == (2, 2, 2)
    errors = dict(result.errors)
    assert errors["luigi"] == "HTTP 500"
    assert str(errors["dagster"]).startswith("store failed: ")
