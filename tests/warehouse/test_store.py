from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from tracker.catalog import load_catalog
from tracker.records import DownloadRecord, ReleaseRecord, StarWeekRecord, ToolBatch


def _rel(version: str, when: datetime | None = datetime(2024, 1, 1, tzinfo=UTC)) -> ReleaseRecord:
    return ReleaseRecord("airflow", "pypi", "apache-airflow", version, when, False, False)


def test_releases_upsert_is_idempotent(store: Any) -> None:
    batch = ToolBatch("airflow", releases=(_rel("1.0"), _rel("2.0")))
    assert store.write_batch(batch) == 2
    store.write_batch(batch)
    store.write_batch(
        ToolBatch(
            "airflow",
            releases=(
                ReleaseRecord("airflow", "pypi", "apache-airflow", "2.0", None, False, True),
            ),
        )
    )
    rows = store.con.execute(
        "SELECT version, released_at, is_yanked FROM releases ORDER BY version"
    ).fetchall()
    assert rows == [("1.0", datetime(2024, 1, 1), False), ("2.0", None, True)]


def test_downloads_overwrite_a_day(store: Any) -> None:
    day = date(2025, 3, 1)
    store.write_batch(
        ToolBatch(
            "airflow",
            downloads=(DownloadRecord("airflow", "apache-airflow", day, 10, "pypistats"),),
        )
    )
    store.write_batch(
        ToolBatch(
            "airflow",
            downloads=(
                DownloadRecord("airflow", "apache-airflow", day, 12, "pypistats"),
                DownloadRecord("airflow", "apache-airflow", day, 15, "clickpy"),
            ),
        )
    )
    rows = store.con.execute(
        "SELECT source, downloads FROM downloads_daily ORDER BY source"
    ).fetchall()
    assert rows == [("clickpy", 15), ("pypistats", 12)]
    assert store.con.execute("SELECT source, downloads FROM downloads_preferred").fetchall() == [
        ("clickpy", 15)
    ]
    assert store.last_download_day("airflow", "apache-airflow", "pypistats") == day


def test_snapshot_star_rows_never_replace_exact_ones(store: Any) -> None:
    week = date(2025, 3, 2)
    store.write_batch(
        ToolBatch(
            "airflow", star_weeks=(StarWeekRecord("airflow", "apache/airflow", week, 40, "github"),)
        )
    )
    store.write_batch(
        ToolBatch(
            "airflow",
            star_weeks=(StarWeekRecord("airflow", "apache/airflow", week, 99, "snapshot"),),
        )
    )
    assert store.con.execute("SELECT stars_added, source FROM star_history").fetchall() == [
        (40, "github")
    ]
    store.write_batch(
        ToolBatch(
            "airflow", star_weeks=(StarWeekRecord("airflow", "apache/airflow", week, 41, "github"),)
        )
    )
    assert store.con.execute("SELECT stars_added, source FROM star_history").fetchall() == [
        (41, "github")
    ]
    assert store.last_star_week("airflow") == week


def test_failed_batch_leaves_nothing(store: Any) -> None:
    bad = ToolBatch(
        "airflow",
        releases=(_rel("1.0"),),
        downloads=(
            DownloadRecord("airflow", "apache-airflow", date(2025, 1, 1), None, "pypistats"),
        ),
    )  # type: ignore[arg-type]
    with pytest.raises(Exception):  # noqa: B017 - NOT NULL violation from DuckDB
        store.write_batch(bad)
    assert store.con.execute("SELECT count(*) FROM releases").fetchone() == (0,)


def test_runs_and_errors(store: Any) -> None:
    run_id = store.start_run("pypi")
    store.add_run_error(run_id, "pypi", "airflow", "HTTP 404")
    store.finish_run(
        run_id, status="partial", tools_ok=3, tools_failed=1, requests=5, rows_written=9
    )
    status = store.source_status("pypi")
    assert status.last_run.status == "partial" and status.last_run.requests == 5
    assert status.last_success_at is not None
    assert [e[1:] for e in status.recent_errors] == [("airflow", "HTTP 404")]


def test_interrupted_runs_are_closed(store: Any) -> None:
    run_id = store.start_run("pypi")
    if store.lake:  # no lock on a lake: a live process' run stays open, a dead one's is closed
        assert store.mark_interrupted_runs() == 0
        store.con.execute("UPDATE lake_run_owners SET pid = 2147483647 WHERE run_id = ?", [run_id])
    assert store.mark_interrupted_runs() == 1
    assert store.con.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]


def test_refresh_tools_keeps_departed_tools(store: Any, tmp_path: Path) -> None:
    store.con.execute("UPDATE tools SET tool_id = 'old-tool' WHERE tool_id = 'sacred'")
    store.refresh_tools(load_catalog())
    rows = dict(
        store.con.execute(
            "SELECT tool_id, in_catalog FROM tools WHERE tool_id IN ('old-tool', 'sacred')"
        ).fetchall()
    )
    assert rows == {"old-tool": False, "sacred": True}
    n = store.con.execute("SELECT count(*) FROM tools WHERE in_catalog").fetchone()[0]
    assert n == len(load_catalog().tools)


def test_download_upsert_never_duplicates(store: Any) -> None:
    days = [date(2025, 1, d) for d in range(1, 11)]
    for value in (1, 2):
        store.write_downloads_columns(
            ["airflow"] * 10, ["apache-airflow"] * 10, days, [value] * 10, "clickpy"
        )
        store.write_downloads_columns(
            ["dagster"] * 10, ["dagster"] * 10, days, [value] * 10, "clickpy"
        )
    # a batch that repeats a key keeps one row for it
    store.write_batch(
        ToolBatch(
            "airflow",
            downloads=(
                DownloadRecord("airflow", "apache-airflow", days[0], 7, "clickpy"),
                DownloadRecord("airflow", "apache-airflow", days[0], 9, "clickpy"),
            ),
        )
    )
    rows = store.con.execute(
        "SELECT tool_id, count(*), count(DISTINCT day), sum(downloads) FROM downloads_daily GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert rows == [("airflow", 10, 10, 9 + 2 * 9), ("dagster", 10, 10, 20)]


def test_replace_all_swaps_a_derived_table(store: Any) -> None:
    import pyarrow as pa

    rows = pa.table(
        {"skill": ["a", "b"], "title": ["A", "B"], "position": pa.array([0, 1], pa.int32())}
    )
    assert store.replace_all("skills", rows) == 2
    assert store.replace_all("skills", rows.slice(1)) == 1
    assert store.con.execute("SELECT skill, title FROM skills").fetchall() == [("b", "B")]
