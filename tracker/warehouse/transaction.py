"""The store's transaction core: the connection, its clock, and one transaction per write.

`Store` (store.py) is this base plus two mixins over it: `RunLog` (runlog.py, the runs and
run_errors tables) and `Writer` (writer.py, the record tables, tools, derived tables). On a
DuckLake (lake.py) each transaction is re-run when its commit conflicts with another writer's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from tracker.clock import Clock, naive_utc, utc_now

if TYPE_CHECKING:
    import duckdb

__all__ = ["StoreCore"]

T = TypeVar("T")


class StoreCore:
    """One DuckDB connection, the run's clock, and the transactions the writes run in."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        clock: Clock = utc_now,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from tracker.warehouse.lake import is_lake

        self.con = con
        # the run's clock (the collectors' CollectContext.now): stamps the run log and tools
        self.clock = clock
        self.lake = is_lake(con)  # DuckLake: DELETE + INSERT upserts, retried transactions
        self._sleep = sleep  # backoff between retries of a conflicting lake transaction
        self.conflicts_retried = 0
        self._bumped = False

    def _bump(self) -> None:
        if not self._bumped:
            from tracker.warehouse.lake import bump_writes

            bump_writes(self.con)
            self._bumped = True

    def _transaction(self, body: Callable[[], T], what: str = "write") -> T:
        """Run ``body`` in one transaction (on the lake: re-run when a commit conflicts)."""
        con = self.con
        if self.lake:
            from tracker.warehouse.lake import run_transaction

            def fresh() -> T:
                self._bumped = False  # each attempt marks itself once (see lake.bump_writes)
                return body()

            return run_transaction(con, fresh, what=what, sleep=self._sleep, on_retry=self._retried)
        con.execute("BEGIN TRANSACTION")
        try:
            result = body()
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return result

    def _retried(self, attempt: int) -> None:
        self.conflicts_retried += 1

    def _autocommit(self, sql: str, params: list[object]) -> None:
        """Run one write statement (on the lake: as a retried transaction)."""
        if self.lake:
            self._transaction(lambda: self.con.execute(sql, params), what=sql.split()[0].lower())
        else:
            self.con.execute(sql, params)

    def _now(self) -> datetime:
        return naive_utc(self.clock())
