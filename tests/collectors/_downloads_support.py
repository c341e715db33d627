"""Helpers shared by the pypistats, ClickPy and Apache collector tests: a fake clock, contexts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import respx

from tracker.collectors.base import CollectContext, Collector
from tracker.config import load_settings
from tracker.records import ToolBatch, ToolFailure, ToolOutcome
from tracker.warehouse.cursors import read_plan

FIXTURES = Path(__file__).parent.parent / "fixtures"


def fixture_text(source: str, name: str) -> str:
    """Return a fixture file's text."""
    return (FIXTURES / source / name).read_text(encoding="utf-8")


@dataclass
class FakeClock:
    """A frozen clock that moves only when something sleeps; records every sleep (seconds)."""

    start: datetime
    elapsed: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.elapsed += seconds

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self.elapsed


def make_ctx(store: Any, clock: FakeClock, source: str, tools: Sequence[Any]) -> CollectContext:
    """Return a context whose plan is read from ``store`` now, as the runner does, and whose sleep
    and clock are ``clock``'s."""
    plan = read_plan(store.con, source, [t.id for t in tools], clock.now())
    return CollectContext(settings=load_settings(), state=plan, sleep=clock.sleep, now=clock.now)


def at(text: str) -> datetime:
    """Return an aware UTC datetime from ``YYYY-MM-DDTHH:MM``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def run(collector: Collector, ctx: CollectContext, tools: Sequence[Any]) -> list[ToolOutcome]:
    """Collect ``tools`` and return the outcomes in order."""
    return list(collector.collect(ctx, tools))


def collect(
    collector: Collector, store: Any, clock: FakeClock, tools: Sequence[Any]
) -> list[ToolOutcome]:
    """Collect ``tools`` with a plan read from ``store`` now; return the outcomes in order."""
    return run(collector, make_ctx(store, clock, collector.name, tools), tools)


def store_all(store: Any, outcomes: Sequence[ToolOutcome]) -> None:
    """Write every batch, as the runner does."""
    for outcome in outcomes:
        if isinstance(outcome, ToolBatch):
            store.write_batch(outcome)


def only_failure(outcomes: Sequence[ToolOutcome]) -> ToolFailure:
    """Return the single outcome, asserting it is a ToolFailure."""
    assert len(outcomes) == 1
    outcome = outcomes[0]
    assert isinstance(outcome, ToolFailure), outcome
    return outcome


def only_batch(outcomes: Sequence[ToolOutcome]) -> ToolBatch:
    """Return the single outcome, asserting it is a ToolBatch."""
    assert len(outcomes) == 1
    outcome = outcomes[0]
    assert isinstance(outcome, ToolBatch), outcome
    return outcome


def mock_router(base_url: str) -> respx.MockRouter:
    """Return a respx router for ``base_url`` whose routes need not all be called."""
    return respx.MockRouter(assert_all_called=False, base_url=base_url)


def mock_transport(router: Any) -> httpx.MockTransport:
    """Return a transport that answers from a respx router."""
    return httpx.MockTransport(router.handler)


def rows(store: Any, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    """Return every row of a query on the test warehouse."""
    return list(store.con.execute(sql, list(params)).fetchall())


def stored_downloads(store: Any, source: str, tool_id: str | None = None) -> list[tuple[Any, ...]]:
    """Return the stored (package, day, downloads) of ``source`` (of one tool when given)."""
    return rows(
        store,
        "SELECT package, day, downloads FROM downloads_daily WHERE source = ?"
        " AND tool_id = coalesce(?, tool_id) ORDER BY package, day",
        [source, tool_id],
    )


def iter_lines(text: str) -> Iterator[str]:
    """Yield the non-empty lines of ``text``."""
    return (line for line in text.splitlines() if line.strip())


def query_db(db_path: Path, *sqls: str) -> list[list[tuple[Any, ...]]]:
    """Open the database file read-only and return each query's rows, in order."""
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return [con.execute(sql).fetchall() for sql in sqls]
    finally:
        con.close()
