"""What the two demand sources (``hn``, ``stackoverflow``) share: calendar months and catalog keys.

Months are ``date`` objects on the first day of a UTC calendar month. Both sources start in
January 2015.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import httpx

from tracker.catalog import Tool
from tracker.collectors.base import CollectContext, make_client

__all__ = [
    "DEMAND_SINCE",
    "add_months",
    "demand_client",
    "has_job_terms",
    "iter_months",
    "month_of",
    "month_start_ts",
    "stackoverflow_tags",
]

DEMAND_SINCE = date(2015, 1, 1)


def month_of(value: datetime | date) -> date:
    """Return the first day of the (UTC) month of ``value``."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        value = value.date()
    return value.replace(day=1)


def add_months(month: date, n: int) -> date:
    """Return the first day of the month ``n`` months after ``month`` (``n`` may be negative)."""
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def iter_months(first: date, last: date) -> Iterator[date]:
    """Yield every month from ``first`` to ``last`` (both included), oldest first."""
    month = month_of(first)
    while month <= last:
        yield month
        month = add_months(month, 1)


def month_start_ts(month: date) -> int:
    """Return the Unix time of ``month``'s first second (00:00:00 UTC on the 1st)."""
    return int(datetime(month.year, month.month, 1, tzinfo=UTC).timestamp())


def stackoverflow_tags(tool: Tool) -> tuple[str, ...]:
    """Return the tool's Stack Overflow tags (catalog key ``stackoverflow_tags``), each once."""
    return tuple(dict.fromkeys(tool.stackoverflow_tags))


def has_job_terms(tool: Tool) -> bool:
    """Return True when the catalog says how a job post names the tool (``job_terms``)."""
    return tool.job_terms is not None and bool(tool.job_terms.names)


def demand_client(
    ctx: CollectContext, source: str, base_url: str, transport: httpx.BaseTransport | None
) -> httpx.Client:
    """The run's HTTP client for a demand source: JSON answers, bodies checked as JSON."""
    return make_client(
        ctx,
        source=source,
        base_url=base_url,
        headers={"Accept": "application/json"},
        transport=transport,
        check_json=True,
    )
