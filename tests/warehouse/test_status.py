"""The reads of `tracker status` (warehouse/status.py) and the `tool_stale_spans` view, on every
backend: when a tool is stale, as of any time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tracker.records import DemandRecord, ReleaseRecord, ToolBatch
from tracker.warehouse.status import last_successes, read_status

T0 = datetime(2025, 3, 1, 2, 0)  # naive UTC, as the warehouse stores it


def write_run(
    store: Any,
    source: str,
    start: datetime,
    status: str,
    errors: Sequence[str] = (),
    *,
    minutes: int = 60,
) -> None:
    """One run of ``source`` from ``start`` for ``minutes``; each tool of ``errors`` fails
    (one error a minute after the start). Times come from the store's clock, set here."""
    store.clock = lambda: start
    run_id = store.start_run(source)
    for i, tool in enumerate(errors, start=1):
        at = start + timedelta(minutes=i)
        store.clock = lambda at=at: at
        store.add_run_error(run_id, source, tool, f"{source}: {tool} failed")
    end = start + timedelta(minutes=minutes)
    store.clock = lambda: end
    store.finish_run(
        run_id, status=status, tools_ok=1, tools_failed=len(errors), requests=1, rows_written=0
    )


def _stale(store: Any, at: datetime) -> dict[str, tuple[str, ...]]:
    states = read_status(store.con, ("github", "pypi"), at)
    return {s.source: s.stale_tools for s in states if s.stale_tools}


def test_runs_and_errors(store: Any) -> None:
    run_id = store.start_run("pypi")
    store.add_run_error(run_id, "pypi", "airflow", "HTTP 404")
    store.finish_run(
        run_id, status="partial", tools_ok=3, tools_failed=1, requests=5, rows_written=9
    )
    (status,) = read_status(store.con, ["pypi"], datetime.now(UTC))
    assert status.last_run is not None
    assert status.last_run.status == "partial" and status.last_run.requests == 5
    assert status.last_success_at is not None
    assert [(e.tool_id, e.error) for e in status.recent_errors] == [("airflow", "HTTP 404")]
    assert status.stale_tools == ("airflow",)  # it failed in the latest success


def test_rows_per_source(store: Any) -> None:
    store.write_batch(
        ToolBatch(
            "airflow",
            demand=(
                DemandRecord("airflow", "hn", date(2025, 1, 1), 3, 400),
                DemandRecord("airflow", "hn", date(2025, 2, 1), 3, 400),
                DemandRecord("airflow", "stackoverflow", date(2025, 1, 1), 120, 50_000),
            ),
            releases=(ReleaseRecord("airflow", "pypi", "apache-airflow", "1.0", T0, False, False),),
        )
    )
    states = read_status(store.con, ["hn", "stackoverflow", "pypi", "github", "apache"], T0)
    assert [s.rows for s in states] == [2, 1, 1, 0, 0]
    assert all(s.last_run is None and s.last_success_at is None for s in states)


def test_a_tool_is_stale_from_its_error_until_a_later_success_ends(store: Any) -> None:
    day = timedelta(days=1)
    write_run(store, "pypi", T0, "ok")
    write_run(store, "pypi", T0 + day, "partial", ["airflow"])  # error at +1 min
    write_run(store, "pypi", T0 + 2 * day, "interrupted", ["dagster"])  # counts neither way
    write_run(store, "pypi", T0 + 3 * day, "failed", ["dagster"])
    write_run(store, "pypi", T0 + 4 * day, "ok")  # ends both spans at +60 min
    write_run(store, "github", T0 + 4 * day, "partial", ["airflow"])
    spans = store.con.execute(
        "SELECT source, tool_id, stale_from, stale_until FROM tool_stale_spans ORDER BY ALL"
    ).fetchall()
    end = T0 + 4 * day + timedelta(minutes=60)
    assert spans == [
        ("github", "airflow", T0 + 4 * day + timedelta(minutes=1), None),
        ("pypi", "airflow", T0 + day + timedelta(minutes=1), end),
        ("pypi", "dagster", T0 + 3 * day + timedelta(minutes=1), end),
    ]
    minute = timedelta(minutes=1)
    assert _stale(store, T0 + day) == {}  # before the error
    assert _stale(store, T0 + day + minute) == {"pypi": ("airflow",)}
    assert _stale(store, T0 + 2 * day + 2 * minute) == {"pypi": ("airflow",)}  # interrupted
    assert _stale(store, T0 + 3 * day + 2 * minute) == {"pypi": ("airflow", "dagster")}
    assert _stale(store, end - minute) == {"github": ("airflow",), "pypi": ("airflow", "dagster")}
    assert _stale(store, end) == {"github": ("airflow",)}  # the ok run has ended
    # the last success as of a time is the newest ok/partial run that had ended by then
    assert last_successes(store.con, T0 + 3 * day)["pypi"] == T0 + day + timedelta(minutes=60)
    assert last_successes(store.con)["pypi"] == end
