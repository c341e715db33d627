"""The reads behind `tracker status`: per source its last run, last success, stored rows, stale
tools and recent errors, a handful of queries for all sources together.

`STALE_TOOLS_AT` is the one reading of "stale tool" (the `tool_stale_spans` view of views.sql):
status asks it at its clock's now, the report (report_queries.py) at the end of its as-of day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tracker.clock import naive_utc

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "STALE_TOOLS_AT",
    "ErrorRow",
    "RunRow",
    "SourceStatus",
    "last_successes",
    "read_status",
]

# tools stale as of $at (naive UTC), per source, with the error of the newest span holding $at
STALE_TOOLS_AT = """
SELECT source, tool_id, arg_max(error, stale_from) AS error FROM tool_stale_spans
WHERE stale_from <= $at AND (stale_until IS NULL OR stale_until > $at)
GROUP BY source, tool_id ORDER BY source, tool_id
"""

# a source's last success as of $at: the newest end of its ok or partial runs ($at NULL: any)
_LAST_SUCCESS = """
SELECT source, max(finished_at) FROM runs
WHERE status IN ('ok', 'partial') AND ($at IS NULL OR finished_at <= $at) GROUP BY source
"""

_LAST_RUN = """
SELECT source, run_id, started_at, finished_at, status, tools_ok, tools_failed, requests
FROM runs QUALIFY row_number() OVER (PARTITION BY source ORDER BY run_id DESC) = 1
"""

# rows each source stored: github owns the star tables and its releases; the others their rows
_ROWS = """
SELECT 'github', (SELECT count(*) FROM repo_snapshots) + (SELECT count(*) FROM star_history)
                 + (SELECT count(*) FROM releases WHERE source = 'github')
UNION ALL SELECT source, count(*) FROM releases WHERE source <> 'github' GROUP BY source
UNION ALL SELECT source, count(*) FROM downloads_daily GROUP BY source
UNION ALL SELECT source, count(*) FROM demand_monthly GROUP BY source
"""

_RECENT_ERRORS = """
SELECT source, recorded_at, tool_id, error FROM run_errors
QUALIFY row_number() OVER (PARTITION BY source ORDER BY recorded_at DESC, tool_id) <= $limit
ORDER BY source, recorded_at DESC, tool_id
"""


@dataclass(frozen=True, slots=True)
class RunRow:
    """A source's newest run, as `tracker status` shows it."""

    run_id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    tools_ok: int
    tools_failed: int
    requests: int


@dataclass(frozen=True, slots=True)
class ErrorRow:
    """One recorded error of a source's runs."""

    at: datetime
    tool_id: str | None  # None: the error concerns the whole source
    error: str


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """What the warehouse says about one source (times naive UTC)."""

    source: str
    rows: int  # stored rows the source owns
    last_run: RunRow | None
    last_success_at: datetime | None
    stale_tools: tuple[str, ...]
    recent_errors: tuple[ErrorRow, ...]  # newest first


def _by_source(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of ``sql`` grouped by their first column (the source), the rest of each row."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for row in con.execute(sql, params or {}).fetchall():
        out.setdefault(str(row[0]), []).append(tuple(row[1:]))
    return out


def last_successes(
    con: duckdb.DuckDBPyConnection, at: datetime | None = None
) -> dict[str, datetime]:
    """Per source that ever succeeded (by ``at`` when given): when its last success ended."""
    params = {"at": None if at is None else naive_utc(at)}
    return {s: rows[0][0] for s, rows in _by_source(con, _LAST_SUCCESS, params).items()}


def read_status(
    con: duckdb.DuckDBPyConnection, sources: Sequence[str], at: datetime, *, error_limit: int = 5
) -> tuple[SourceStatus, ...]:
    """Per source in ``sources``: its status as of ``at`` (stale tools, last success; the
    last run, rows and recent errors are the newest stored)."""
    at = naive_utc(at)
    runs = _by_source(con, _LAST_RUN)
    success = last_successes(con, at)
    rows = _by_source(con, _ROWS)
    stale = _by_source(con, STALE_TOOLS_AT, {"at": at})
    errors = _by_source(con, _RECENT_ERRORS, {"limit": error_limit})
    return tuple(
        SourceStatus(
            source=s,
            last_run=RunRow(*runs[s][0]) if s in runs else None,
            last_success_at=success.get(s),
            rows=sum(int(r[0]) for r in rows.get(s, [])),
            stale_tools=tuple(str(r[0]) for r in stale.get(s, [])),
            recent_errors=tuple(ErrorRow(*r) for r in errors.get(s, [])),
        )
        for s in sources
    )
