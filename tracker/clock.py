"""The one clock: every decision that depends on "now" reads a ``Clock`` that is injected.

Collectors get it as ``CollectContext.now``; the runner hands the same callable to the
``Store`` for the run log, and records carry the times they were fetched at. Tests pin it in
one place, so no comparison ever mixes a pinned time with the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "naive_utc", "utc_now"]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Return the wall-clock time, aware, in UTC (the default ``Clock``)."""
    return datetime.now(UTC)


def naive_utc(value: datetime) -> datetime:
    """Return ``value`` as a naive UTC datetime (the warehouse's convention)."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)
