"""DuckLake targets: `TRACKER_DB=ducklake:<catalog>` with the data as Parquet files.

``<catalog>`` is ``postgres:<libpq conninfo>`` (several machines and processes) or the path of a
DuckDB file (one machine). The Parquet files go to ``TRACKER_DATA_PATH`` (required with a
PostgreSQL catalog; beside a file catalog, ``<catalog>.files/``, by default).

What differs from a DuckDB file, and which module covers it (this one re-exports their names):

- lake_attach.py: the extensions come from the ``tracker[lake]`` extra (wheels built for one
  DuckDB release) and are loaded from the installed packages; DuckDB's auto-install and
  auto-load stay off, so nothing is ever downloaded at run time;
- lake_schema.py: DuckLake has no primary keys, indexes, sequences, ON CONFLICT or RETURNING:
  the migrations are translated (constraints dropped, sequences become rows of
  ``lake_sequences``); the store's upserts become DELETE + INSERT on the key inside the same
  transaction (tables.py generates both backends' statements from one spec per table);
- lake_retry.py: there is no writer lock: DuckLake commits with snapshot isolation and detects
  conflicting commits per table. Every write of the store runs in ``run_transaction``, which
  retries a conflicting transaction (bounded, exponential backoff). Each write of records also
  bumps the one row of ``lake_writes``, so two such transactions always conflict and one re-runs
  on the other's result: no key is ever stored twice, even by two collects of one source.
"""

from __future__ import annotations

from tracker.warehouse.lake_attach import (
    LAKE_ALIAS,
    LakeTarget,
    _is_init_race,
    connect_lake,
    extension_files,
    is_lake,
    mask_secrets,
    parse_target,
)
from tracker.warehouse.lake_retry import (
    DEFAULT_RETRY,
    RetryPolicy,
    bump_writes,
    is_conflict,
    next_value,
    owner,
    pid_alive,
    run_transaction,
)
from tracker.warehouse.lake_schema import (
    lake_is_current,
    lake_schema_version,
    migrate_lake,
    open_lake,
    translate_ddl,
)

__all__ = [
    "DEFAULT_RETRY",
    "LAKE_ALIAS",
    "LakeTarget",
    "RetryPolicy",
    "_is_init_race",
    "bump_writes",
    "connect_lake",
    "extension_files",
    "is_conflict",
    "is_lake",
    "lake_is_current",
    "lake_schema_version",
    "mask_secrets",
    "migrate_lake",
    "next_value",
    "open_lake",
    "owner",
    "parse_target",
    "pid_alive",
    "run_transaction",
    "translate_ddl",
]
