"""DuckLake transactions: a conflicting commit re-runs (bounded, exponential backoff); the lake's
stand-ins for sequences and for the writer lock's bookkeeping (see lake.py for the whole)."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from tracker.errors import WarehouseError

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "DEFAULT_RETRY",
    "RetryPolicy",
    "bump_writes",
    "is_conflict",
    "next_value",
    "owner",
    "pid_alive",
    "run_transaction",
]

log = logging.getLogger(__name__)

T = TypeVar("T")


# ---- transactions --------------------------------------------------------------------------


def is_conflict(exc: BaseException) -> bool:
    """Return True when ``exc`` is a DuckLake commit conflict (worth retrying)."""
    import duckdb

    if not isinstance(exc, duckdb.Error):
        return False
    text = str(exc)
    return "conflict" in text.lower() or (
        isinstance(exc, duckdb.TransactionException) and "Failed to commit" in text
    )


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    import duckdb

    with contextlib.suppress(duckdb.Error):  # a failed COMMIT has already ended it
        con.execute("ROLLBACK")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a conflicting lake transaction is retried."""

    attempts: int = 40
    first_wait: float = 0.02
    max_wait: float = 1.0
    factor: float = 1.7

    def wait(self, attempt: int, rng: random.Random) -> float:
        """Return the sleep before retry number ``attempt`` (1-based), with full jitter."""
        cap = min(self.max_wait, self.first_wait * self.factor ** (attempt - 1))
        return cap * (0.5 + rng.random() / 2)


DEFAULT_RETRY = RetryPolicy()


def run_transaction(
    con: duckdb.DuckDBPyConnection,
    body: Callable[[], T],
    *,
    what: str = "write",
    policy: RetryPolicy = DEFAULT_RETRY,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int], None] | None = None,
) -> T:
    """Run ``body`` in one transaction; re-run it from the start when the commit conflicts."""
    rng = random.Random()
    for attempt in range(1, policy.attempts + 1):
        con.execute("BEGIN TRANSACTION")
        try:
            result = body()
            con.execute("COMMIT")
            return result
        except BaseException as exc:
            _rollback(con)
            if not is_conflict(exc) or attempt == policy.attempts:
                if is_conflict(exc):
                    raise WarehouseError(
                        f"{what}: still conflicting with other writers after {attempt} attempts"
                    ) from exc
                raise
            log.info(
                "lake transaction conflict; retrying",
                extra={"what": what, "attempt": attempt},
            )
            if on_retry is not None:
                on_retry(attempt)
            sleep(policy.wait(attempt, rng))
    raise AssertionError("unreachable")  # pragma: no cover


def next_value(con: duckdb.DuckDBPyConnection, sequence: str) -> int:
    """Advance the lake sequence ``sequence`` and return its new value (inside a transaction)."""
    row = con.execute("SELECT value FROM lake_sequences WHERE name = ?", [sequence]).fetchone()
    if row is None:
        raise WarehouseError(f"the lake has no sequence {sequence!r}")
    value = int(row[0]) + 1
    con.execute("UPDATE lake_sequences SET value = ? WHERE name = ?", [value, sequence])
    return value


def bump_writes(con: duckdb.DuckDBPyConnection) -> None:
    """Mark this transaction as an upsert: any two such transactions conflict (table-level in
    DuckLake), so one of them re-runs on the other's result and never stores a key twice."""
    con.execute("UPDATE lake_writes SET writes = writes + 1 WHERE table_name = '*'")


# ---- runs left open ------------------------------------------------------------------------


def owner() -> tuple[str, int]:
    """Return (host, pid) of this process, as recorded beside its runs."""
    return socket.gethostname(), os.getpid()


def pid_alive(pid: int) -> bool:
    """Return True when a process with ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
