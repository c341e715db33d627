"""The typed load: the report's only reader of the warehouse."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.reports.conftest import AS_OF
from tracker.reports import rows as rw
from tracker.reports.analytics import analyse
from tracker.reports.load import _rows, load
from tracker.warehouse import open_db


def test_load_returns_frozen_typed_rows_and_analyse_needs_no_connection(
    landscape_db: Path,
) -> None:
    con = open_db(landscape_db, read_only=True)
    try:
        data = load(con, AS_OF)
    finally:
        con.close()
    assert {t.tool_id for t in data.tools} >= {"oozie", "airflow", "fblearner"}
    assert all(isinstance(m, rw.MetricRow) for m in data.metrics)
    oozie = next(m for m in data.metrics if m.tool_id == "oozie" and m.metric == "downloads")
    assert oozie.window_end == data.newest["downloads"] and oozie.subs_per_year == 12
    assert {s.source for s in data.sources} == {"clickpy", "github", "pypistats"}
    assert [(s.tool_id, s.source) for s in data.stale] == [("viral", "github")]
    assert dict((c.tbl, c.rows) for c in data.table_rows)["tools"] == len(data.tools)
    assert {r.skill for r in data.skill_readings} == {"orchestration", "mlops"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.as_of = AS_OF  # type: ignore[misc]
    a = analyse(data, AS_OF)  # the connection is closed: the analysis reads only `data`
    assert next(t for t in a.tools if t.tool_id == "oozie").label == "declining"


def test_a_query_whose_columns_differ_from_its_row_class_fails_loudly(landscape_db: Path) -> None:
    con = open_db(landscape_db, read_only=True)
    try:
        params = {"as_of": AS_OF, "as_of_next": AS_OF, "at": AS_OF}
        with pytest.raises(RuntimeError, match="query 'sources' returns"):
            _rows(con, "sources", params, rw.StaleRow)
    finally:
        con.close()
