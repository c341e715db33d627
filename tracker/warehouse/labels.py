"""Writes a report's labels to `tool_labels` and `skill_labels` (migration 004).

One transaction per report, on a DuckDB file or a DuckLake (Store.replace_tables): the rows of
that as-of date are replaced, so re-running a report for the same date is idempotent and a report
for another date adds its own rows beside.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

__all__ = ["SKILL_LABEL_COLUMNS", "TOOL_LABEL_COLUMNS", "save_labels"]

TOOL_LABEL_COLUMNS = (
    "tool_id", "metric", "label", "confidence", "driver", "r", "rm", "rr", "baseline_r",
    "earlier_per_year", "later_per_year", "window_end", "reason",
)  # fmt: skip
SKILL_LABEL_COLUMNS = (
    "skill", "metric", "label", "confidence", "driver", "tools_judged", "tools_rising",
    "tools_declining", "tools_stable", "share_rising", "share_declining", "r", "rm", "rr",
    "earlier_per_year", "later_per_year", "reason",
)  # fmt: skip


# the column types of migration 004 (pyarrow names), for the Arrow tables handed to the Store
_TYPES = {
    "as_of": "date32", "written_at": "timestamp", "window_end": "date32",
    "tools_judged": "int32", "tools_rising": "int32", "tools_declining": "int32",
    "tools_stable": "int32",
    "r": "float64", "rm": "float64", "rr": "float64", "baseline_r": "float64",
    "earlier_per_year": "float64", "later_per_year": "float64", "share_rising": "float64",
    "share_declining": "float64",
}  # fmt: skip


def _arrow_type(column: str) -> Any:
    import pyarrow as pa

    kind = _TYPES.get(column, "string")
    if kind == "timestamp":
        return pa.timestamp("us")
    return getattr(pa, kind)()


def _table(
    columns: Sequence[str], rows: Sequence[Mapping[str, Any]], as_of: date, written_at: datetime
) -> Any:
    import pyarrow as pa

    data = {c: pa.array([row.get(c) for row in rows], _arrow_type(c)) for c in columns}
    data["as_of"] = pa.array([as_of] * len(rows), _arrow_type("as_of"))
    data["written_at"] = pa.array([written_at] * len(rows), _arrow_type("written_at"))
    return pa.table(data)


def save_labels(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    tool_rows: Sequence[Mapping[str, Any]],
    skill_rows: Sequence[Mapping[str, Any]],
    written_at: datetime,
) -> None:
    """Replace the labels of ``as_of`` with these rows (one transaction, on a DuckDB file or a
    DuckLake: see Store.replace_tables)."""
    from tracker.warehouse.store import Store

    Store(con).replace_tables(
        {
            "tool_labels": _table(TOOL_LABEL_COLUMNS, tool_rows, as_of, written_at),
            "skill_labels": _table(SKILL_LABEL_COLUMNS, skill_rows, as_of, written_at),
        },
        where={"as_of": as_of},
    )
