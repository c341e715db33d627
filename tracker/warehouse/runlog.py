"""The run log: one row of `runs` per (collect, source) and the errors of each run (`run_errors`).

A mixin of `Store` (store.py) over the transaction core (transaction.py). On a DuckLake there is
no writer lock and no sequence: run ids come from `lake_sequences`, and each run records its
(host, pid) in `lake_run_owners` so that only runs of dead processes are closed as interrupted.
"""

from __future__ import annotations

from tracker.warehouse.transaction import StoreCore

__all__ = ["RunLog"]

# closes the runs a WHERE clause selects, as left open by a process that stopped
_CLOSE_INTERRUPTED = (
    "UPDATE runs SET status = 'interrupted', finished_at = coalesce(finished_at, started_at),"
    " error = coalesce(error, 'the process stopped before the run finished')"
)


class RunLog(StoreCore):
    """Opens, closes and annotates runs."""

    def mark_interrupted_runs(self) -> int:
        """Close runs left 'running' by a killed process (call while holding the lock).

        On the lake there is no lock: only runs whose process is known to be gone (same host,
        pid no longer alive) or that started more than a day ago are closed.
        """
        if self.lake:
            return self._transaction(self._mark_interrupted_lake, "close interrupted runs")
        rows = self.con.execute(
            _CLOSE_INTERRUPTED + " WHERE status = 'running' RETURNING run_id"
        ).fetchall()
        return len(rows)

    def _mark_interrupted_lake(self) -> int:
        from datetime import timedelta

        from tracker.warehouse.lake import owner, pid_alive

        host, _ = owner()
        rows = self.con.execute(
            "SELECT r.run_id, r.started_at, o.host, o.pid FROM runs r"
            " LEFT JOIN lake_run_owners o USING (run_id) WHERE r.status = 'running'"
        ).fetchall()
        cutoff = self._now() - timedelta(days=1)
        gone = [
            int(run_id)
            for run_id, started, run_host, pid in rows
            if (run_host == host and pid is not None and not pid_alive(int(pid)))
            or started < cutoff
        ]
        if gone:
            self.con.execute(
                _CLOSE_INTERRUPTED + " WHERE run_id IN (SELECT unnest(?::BIGINT[]))", [gone]
            )
        return len(gone)

    def start_run(self, source: str) -> int:
        """Insert a 'running' row into `runs` and return its run_id."""
        if self.lake:
            return self._transaction(lambda: self._start_run_lake(source), "start run")
        row = self.con.execute(
            "INSERT INTO runs (started_at, source, status) VALUES (?, ?, 'running') RETURNING run_id",
            [self._now(), source],
        ).fetchone()
        assert row is not None
        return int(row[0])

    def _start_run_lake(self, source: str) -> int:
        from tracker.warehouse.lake import next_value, owner

        run_id = next_value(self.con, "run_id_seq")
        self.con.execute(
            "INSERT INTO runs (run_id, started_at, source, status, tools_ok, tools_failed,"
            " requests, rows_written) VALUES (?, ?, ?, 'running', 0, 0, 0, 0)",
            [run_id, self._now(), source],
        )
        host, pid = owner()
        self.con.execute("INSERT INTO lake_run_owners VALUES (?, ?, ?)", [run_id, host, pid])
        return run_id

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        tools_ok: int,
        tools_failed: int,
        requests: int,
        rows_written: int,
        error: str | None = None,
    ) -> None:
        """Close a run with its outcome."""
        self._autocommit(
            "UPDATE runs SET finished_at = ?, status = ?, tools_ok = ?, tools_failed = ?,"
            " requests = ?, rows_written = ?, error = ? WHERE run_id = ?",
            [self._now(), status, tools_ok, tools_failed, requests, rows_written, error, run_id],
        )

    def interrupt_run(
        self, run_id: int, *, tools_ok: int, tools_failed: int, requests: int, rows_written: int
    ) -> None:
        """Mark a still-running run ``interrupted`` at once (a second signal is ending the process).

        Uses its own cursor: the caller may be a signal handler that interrupted a tool's open
        transaction on the main connection (never committed) or another thread's job.
        """
        sql = (
            "UPDATE runs SET finished_at = ?, status = 'interrupted', tools_ok = ?,"
            " tools_failed = ?, requests = ?, rows_written = ?,"
            " error = 'stopped at once by a second signal; the tool in progress was not stored'"
            " WHERE run_id = ? AND status = 'running'"
        )
        params = [self._now(), tools_ok, tools_failed, requests, rows_written, run_id]
        cur = self.con.cursor()
        try:
            if self.lake:  # a cursor starts on the in-memory database: point it at the lake
                from tracker.warehouse.lake import LAKE_ALIAS, run_transaction

                cur.execute(f"USE {LAKE_ALIAS}")
                run_transaction(
                    cur, lambda: cur.execute(sql, params), what="interrupt run", sleep=self._sleep
                )
            else:
                cur.execute(sql, params)
        finally:
            cur.close()

    def add_run_error(self, run_id: int, source: str, tool_id: str | None, error: str) -> None:
        """Record one error of a run (tool_id None: the whole source)."""
        self._autocommit(
            "INSERT INTO run_errors VALUES (?, ?, ?, ?, ?)",
            [run_id, source, tool_id, error, self._now()],
        )
