"""warehouse/tables.py: each record table's columns are its record's fields, on every backend."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from tracker.records import ReleaseRecord, RepoIdentityRecord, StarWeekRecord, ToolBatch
from tracker.warehouse.tables import RELEASES, TABLES, TableSpec


@pytest.mark.parametrize("spec", TABLES, ids=lambda s: s.name)
def test_record_fields_are_the_table_columns(store: Any, spec: TableSpec) -> None:
    """Fails when a record dataclass and its table (after the migrations) disagree on a column's
    name, order, type or nullability."""
    stored = store.con.execute(
        "SELECT column_name, data_type, is_nullable = 'YES' FROM information_schema.columns"
        " WHERE table_catalog = current_database() AND table_schema = current_schema()"
        " AND table_name = ? ORDER BY ordinal_position",
        [spec.name],
    ).fetchall()
    if store.lake:  # translate_ddl drops an inline PRIMARY KEY, and the NOT NULL it implies
        stored = [(n, t, nullable and n not in spec.key) for n, t, nullable in stored]
    assert stored == [(c.name, c.sql_type, c.nullable) for c in spec.columns]


def test_a_field_without_a_column_type_is_refused() -> None:
    from dataclasses import dataclass

    @dataclass
    class Odd:
        tool_id: str
        ratio: float

    with pytest.raises(TypeError, match="ratio"):
        TableSpec("odd", Odd, ("tool_id",))
    with pytest.raises(ValueError, match="key"):
        TableSpec("releases", ReleaseRecord, ("tool_id", "nope"))


def test_records_become_naive_utc_columns() -> None:
    from datetime import timedelta, timezone

    paris = timezone(timedelta(hours=1))
    rows = RELEASES.records_arrow(
        [
            ReleaseRecord(
                "a", "pypi", "p", "1.0", datetime(2025, 1, 1, 1, tzinfo=paris), True, False
            ),
            ReleaseRecord("a", "pypi", "p", "2.0", None, False, True, False, "two"),
        ]
    )
    assert rows.column_names == list(RELEASES.names)
    assert rows.column("released_at").to_pylist() == [datetime(2025, 1, 1), None]
    assert rows.column("is_prerelease").to_pylist() == [True, False]
    assert rows.column("title").to_pylist() == [None, "two"]
    assert RELEASES.records_arrow([]).num_rows == 0


def test_a_renamed_repo_carries_its_rows_to_the_new_name(store: Any) -> None:
    """The rename rule (writer._carry_repo_name) on each backend: releases under the old name
    move to the new one unless stored there already, star weeks take the new name."""

    def batch(name: str, versions: tuple[str, ...]) -> ToolBatch:
        return ToolBatch(
            "airflow",
            releases=tuple(
                ReleaseRecord("airflow", "github", name, v, None, False, False, title=name)
                for v in versions
            ),
            star_weeks=(StarWeekRecord("airflow", name, date(2025, 1, 5), 3, "github"),),
            identities=(RepoIdentityRecord("airflow", 7, name, "apache/airflow", None, None),),
        )

    store.write_batch(batch("apache/airflow", ("1.0", "2.0")))
    store.clock = lambda: datetime(2026, 1, 2, tzinfo=UTC)
    store.write_batch(batch("apache/airflow-core", ("2.0", "3.0")))
    assert store.con.execute(
        "SELECT project, version, title FROM releases ORDER BY version"
    ).fetchall() == [
        ("apache/airflow-core", "1.0", "apache/airflow"),
        ("apache/airflow-core", "2.0", "apache/airflow-core"),
        ("apache/airflow-core", "3.0", "apache/airflow-core"),
    ]
    assert store.con.execute("SELECT repo FROM star_history").fetchall() == [
        ("apache/airflow-core",)
    ]
    assert store.con.execute("SELECT full_name, updated_at FROM repo_identities").fetchall() == [
        ("apache/airflow-core", datetime(2026, 1, 2))
    ]
