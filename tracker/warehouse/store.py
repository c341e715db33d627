"""`Store`, the warehouse's only writer: the transaction core with the run log and the writer.

Composition by mixins: `Store(Writer, RunLog)`, both over `StoreCore` (transaction.py: the
connection, the clock, one transaction per write, retried on a DuckLake); `RunLog` (runlog.py)
writes `runs` and `run_errors`, `Writer` (writer.py) the record tables by the rules their specs
declare (tables.py), `tools`/`skills` and the derived tables. Reads live elsewhere: collectors'
cursors in cursors.py (an immutable SourcePlan), `tracker status` in status.py, the report in
report_queries.py.
"""

from __future__ import annotations

from tracker.warehouse.runlog import RunLog
from tracker.warehouse.writer import Writer

__all__ = ["Store"]


class Store(Writer, RunLog):
    """Writes the warehouse through one DuckDB connection (see the module docstring)."""
