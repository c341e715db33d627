"""Writes a report's labels to `tool_labels` and `skill_labels` (migration 004).

One transaction per report: the rows of that as-of date are replaced, so re-running a report
for the same date is idempotent and a report for another date adds its own rows beside.
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


def _insert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    as_of: date,
    written_at: datetime,
) -> None:
    if not rows:
        return
    cols = ", ".join(columns)
    values = ", ".join(f"unnest(${i + 1})" for i in range(len(columns)))
    n = len(columns)
    con.execute(
        f"INSERT INTO {table} (as_of, written_at, {cols}) SELECT ${n + 1}, ${n + 2}, {values}",
        [[row.get(c) for row in rows] for c in columns] + [as_of, written_at],
    )


def save_labels(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    tool_rows: Sequence[Mapping[str, Any]],
    skill_rows: Sequence[Mapping[str, Any]],
    written_at: datetime,
) -> None:
    """Replace the labels of ``as_of`` with these rows (one transaction)."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM tool_labels WHERE as_of = ?", [as_of])
        con.execute("DELETE FROM skill_labels WHERE as_of = ?", [as_of])
        _insert(con, "tool_labels", TOOL_LABEL_COLUMNS, tool_rows, as_of, written_at)
        _insert(con, "skill_labels", SKILL_LABEL_COLUMNS, skill_rows, as_of, written_at)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
