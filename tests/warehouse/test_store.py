from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from tracker.catalog import load_catalog
from tracker.records import (
    DemandRecord,
    DownloadRecord,
    HttpCacheRecord,
    ReleaseRecord,
    StarWeekRecord,
    ToolBatch,
)
from tracker.warehouse.cursors import read_plan


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
    plan = read_plan(store.con, "pypistats", ["airflow"], datetime(2025, 3, 2, tzinfo=UTC))
    assert plan.last_download_day("airflow", "apache-airflow", "pypistats") == day


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
    plan = read_plan(store.con, "github", ["airflow"], datetime(2025, 3, 9, tzinfo=UTC))
    assert plan.last_star_week("airflow") == week


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


def test_write_batches_stores_several_tools_in_one_transaction(store: Any) -> None:
    url = "https://pypi.org/pypi/shared/json"  # two tools listing the same package
    first = ToolBatch(
        "airflow",
        releases=(_rel("1.0"), _rel("2.0")),
        http_cache=(HttpCacheRecord(url, '"a"', None, datetime(2025, 1, 1, tzinfo=UTC)),),
    )
    second = ToolBatch(
        "dagster",
        releases=(ReleaseRecord("dagster", "pypi", "dagster", "1.0", None, False, False),),
        http_cache=(HttpCacheRecord(url, '"b"', None, datetime(2025, 1, 2, tzinfo=UTC)),),
    )
    assert (first.rows, second.rows) == (2, 1)
    assert store.write_batches([first, second]) == 3
    assert store.write_batches([]) == 0
    assert store.con.execute(
        "SELECT tool_id, count(*) FROM releases GROUP BY 1 ORDER BY 1"
    ).fetchall() == [("airflow", 2), ("dagster", 1)]
    assert store.con.execute("SELECT etag FROM http_cache").fetchall() == [('"b"',)]


def test_write_batches_is_all_or_nothing(store: Any) -> None:
    bad = ToolBatch(
        "dagster",
        downloads=(DownloadRecord("dagster", "dagster", date(2025, 1, 1), None, "pypistats"),),
    )  # type: ignore[arg-type]
    with pytest.raises(Exception):  # noqa: B017 - NOT NULL violation from DuckDB
        store.write_batches([ToolBatch("airflow", releases=(_rel("1.0"),)), bad])
    assert store.con.execute("SELECT count(*) FROM releases").fetchone() == (0,)


def test_interrupted_runs_are_closed(store: Any) -> None:
    run_id = store.start_run("pypi")
    if store.lake:  # no lock on a lake: a live process' run stays open, a dead one's is closed
        assert store.mark_interrupted_runs() == 0
        store.con.execute("UPDATE lake_run_owners SET pid = 2147483647 WHERE run_id = ?", [run_id])
    assert store.mark_interrupted_runs() == 1
    assert store.con.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]


def test_a_second_signal_closes_the_run_through_its_own_cursor(store: Any) -> None:
    run_id = store.start_run("pypi")
    done = store.start_run("pypi")
    store.finish_run(done, status="ok", tools_ok=1, tools_failed=0, requests=1, rows_written=1)
    store.con.execute("BEGIN TRANSACTION")  # a tool's open transaction, never committed
    store.interrupt_run(run_id, tools_ok=2, tools_failed=1, requests=7, rows_written=30)
    store.interrupt_run(done, tools_ok=0, tools_failed=0, requests=0, rows_written=0)
    store.con.execute("ROLLBACK")
    rows = store.con.execute(
        "SELECT run_id, status, tools_ok, requests, rows_written FROM runs ORDER BY run_id"
    ).fetchall()
    assert rows == [(run_id, "interrupted", 2, 7, 30), (done, "ok", 1, 1, 1)]


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


def test_replace_tables_replaces_only_the_rows_matching_where(store: Any) -> None:
    """The report's labels: both tables of one as-of date in one transaction, others kept."""
    from datetime import date as d

    from tracker.warehouse.labels import save_labels

    def tool_row(tool: str, label: str) -> dict[str, Any]:
        return {"tool_id": tool, "metric": "stars", "label": label, "confidence": "normal",
                "r": 1.5, "window_end": d(2025, 5, 31), "reason": "r"}  # fmt: skip

    skill_row = {"skill": "orchestration", "metric": "headline", "label": "rising",
                 "confidence": "normal", "tools_judged": 3, "tools_rising": 2,
                 "tools_declining": 0, "tools_stable": 1, "reason": "r"}  # fmt: skip
    at = datetime(2025, 6, 1, 12)
    march, june = d(2025, 3, 1), d(2025, 6, 1)
    save_labels(store.con, march, [tool_row("airflow", "stable")], [skill_row], at)
    save_labels(store.con, june, [tool_row("airflow", "rising")], [skill_row], at)
    save_labels(
        store.con, june, [tool_row("airflow", "declining"), tool_row("dagster", "rising")], [], at
    )
    rows = store.con.execute(
        "SELECT as_of, tool_id, label, r, window_end, written_at FROM tool_labels ORDER BY ALL"
    ).fetchall()
    assert rows == [
        (march, "airflow", "stable", 1.5, d(2025, 5, 31), at),
        (june, "airflow", "declining", 1.5, d(2025, 5, 31), at),
        (june, "dagster", "rising", 1.5, d(2025, 5, 31), at),
    ]
    skills = store.con.execute("SELECT as_of, tools_judged FROM skill_labels").fetchall()
    assert skills == [(march, 3)]
    with pytest.raises(ValueError):
        store.replace_all("tool_labels; DROP TABLE runs", rows)


# ---- demand_monthly (hn, stackoverflow) ------------------------------------------------------


def _demand(tool: str, source: str, month: date, mentions: int, total: int) -> DemandRecord:
    return DemandRecord(tool, source, month, mentions, total)


def test_demand_upsert_replaces_a_month_and_never_duplicates(store: Any) -> None:
    jan, feb = date(2025, 1, 1), date(2025, 2, 1)
    first = ToolBatch(
        "airflow",
        demand=(_demand("airflow", "hn", jan, 3, 400), _demand("airflow", "hn", feb, 1, 380)),
    )
    assert store.write_batch(first) == 2
    store.write_batch(first)
    # a re-read month (the thread grew) replaces the stored figures
    store.write_batch(ToolBatch("airflow", demand=(_demand("airflow", "hn", feb, 2, 410),)))
    store.write_batch(
        ToolBatch("airflow", demand=(_demand("airflow", "stackoverflow", jan, 120, 50_000),))
    )
    rows = store.con.execute(
        "SELECT source, month, mentions, total FROM demand_monthly ORDER BY source, month"
    ).fetchall()
    assert rows == [
        ("hn", jan, 3, 400),
        ("hn", feb, 2, 410),
        ("stackoverflow", jan, 120, 50_000),
    ]


def test_monthly_metrics_has_demand_columns_and_keeps_the_others(store: Any) -> None:
    jan, feb = date(2025, 1, 1), date(2025, 2, 1)
    store.write_batch(
        ToolBatch(
            "airflow",
            downloads=(
                DownloadRecord("airflow", "apache-airflow", date(2025, 1, 5), 10, "clickpy"),
            ),
            demand=(
                _demand("airflow", "hn", jan, 3, 400),
                _demand("airflow", "stackoverflow", jan, 120, 50_000),
                _demand("airflow", "hn", feb, 2, 380),
            ),
        )
    )
    rows = store.con.execute(
        "SELECT month, stars_added, downloads, releases, download_days, hn_posts, hn_total,"
        " so_questions, so_total FROM monthly_metrics WHERE tool_id = 'airflow' ORDER BY month"
    ).fetchall()
    assert rows == [
        (jan, None, 10, 0, 1, 3, 400, 120, 50_000),
        # a month with demand only: no stars, no downloads, no releases, as for any other month
        (feb, None, None, 0, 0, 2, 380, None, None),
    ]
    trends = store.con.execute(
        "SELECT month, hn_posts, so_questions FROM tool_trends WHERE tool_id = 'airflow'"
        " ORDER BY month"
    ).fetchall()
    assert trends == [(jan, 3, 120), (feb, 2, None)]
