"""The DuckDB warehouse: connection, writer lock, migrations, views and the only writer."""

from __future__ import annotations

from tracker.warehouse.db import WriterLock, open_db, schema_version
from tracker.warehouse.store import Store

__all__ = ["Store", "WriterLock", "open_db", "schema_version"]
