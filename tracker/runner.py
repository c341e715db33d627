"""Run collectors: one `runs` row per source, its outcomes stored by ``source_run``, errors logged.

Used by `tracker collect` and by the scheduler's jobs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from tracker.catalog import Catalog, Tool, load_catalog
from tracker.clock import Clock, utc_now
from tracker.collectors.base import SOURCES, CollectContext, get_collector
from tracker.config import Settings
from tracker.errors import ConfigError
from tracker.logging_setup import bind_run, unbind_run
from tracker.signals import on_force_stop
from tracker.source_run import SourceRun, collect_source
from tracker.summary import CollectSummary, ProgressHook, SourceSummary
from tracker.warehouse.cursors import read_plan
from tracker.warehouse.db import is_database_error, write_session
from tracker.warehouse.store import Store

__all__ = [
    "CollectSummary",
    "ProgressHook",
    "SourceSummary",
    "load_configured_catalog",
    "run_collect",
]

log = logging.getLogger(__name__)

_NO_TOOL = "no selected tool has data in this source"


def load_configured_catalog(settings: Settings) -> Catalog:
    """Return the bundled catalog merged with TRACKER_CATALOG (if set)."""
    return load_catalog([settings.catalog_path] if settings.catalog_path else [])


def _select_tools(catalog: Catalog, tool_ids: Sequence[str]) -> list[Tool]:
    if not tool_ids:
        return [t for t in catalog.tools if t.trackable]
    chosen = []
    for tool_id in tool_ids:
        tool = catalog.get(tool_id)
        if tool is None:
            raise ConfigError(
                f"--tool {tool_id!r}: no such tool in the catalog (see `tracker catalog list`)"
            )
        if not tool.trackable:
            raise ConfigError(f"--tool {tool_id!r} is not trackable: {tool.notes}")
        chosen.append(tool)
    return chosen


def run_collect(
    settings: Settings,
    *,
    sources: Sequence[str] = (),
    tool_ids: Sequence[str] = (),
    progress: ProgressHook | None = None,
    lock_wait: float = 0.0,
    stop_requested: Callable[[], bool] = lambda: False,
    clock: Clock = utc_now,
) -> CollectSummary:
    """Collect ``sources`` (default all) for ``tool_ids`` (default all trackable) into the DB.

    ``clock`` (default: the wall clock) is the one clock of the run: collectors read it as
    ``ctx.now`` and the store stamps the run log with it. Raises ConfigError / CatalogError /
    WarehouseError before anything is written.
    """
    for source in sources:
        if source not in SOURCES:
            raise ConfigError(f"--source {source!r}: unknown source (known: {', '.join(SOURCES)})")
    catalog = load_configured_catalog(settings)
    tools = _select_tools(catalog, tool_ids)
    wanted = [s for s in SOURCES if s in sources] if sources else list(SOURCES)
    progress = progress or ProgressHook()
    summary = CollectSummary(db_path=settings.db_label)
    with write_session(settings.db_target, wait_seconds=lock_wait) as con:
        try:
            store = Store(con, clock)  # one clock for the run log and the collectors
            if store.mark_interrupted_runs():
                log.warning("closed runs left open by an interrupted earlier process")
            store.refresh_tools(catalog)
            for source in wanted:
                if stop_requested():
                    summary.interrupted = True
                    break
                result = _run_source(settings, store, source, tools, progress, stop_requested)
                summary.sources.append(result)
                progress.source_finished(result)
                if result.status == "interrupted":
                    summary.interrupted = True
                    break
        except Exception as exc:
            if is_database_error(exc):  # a damaged file: one clear line, exit 2
                raise settings.database_error(exc) from exc
            raise
        finally:
            unbind_run()
    return summary


def _run_source(
    settings: Settings,
    store: Store,
    source: str,
    tools: Sequence[Tool],
    progress: ProgressHook,
    stop_requested: Callable[[], bool],
) -> SourceSummary:
    collector = get_collector(source)
    todo = [t for t in tools if collector is not None and collector.applicable(t)]
    if collector is None or not todo:
        note = "not implemented in this version" if collector is None else _NO_TOOL
        return SourceSummary(source=source, status="skipped", note=note)
    run_id = store.start_run(source)
    bind_run(run_id, source)  # every log line of this source's run carries its run_id
    # the collector gets its cursors as an immutable plan, never the store
    plan = read_plan(store.con, source, [t.id for t in todo], store.clock())
    ctx = CollectContext(settings, plan, now=store.clock, stop_requested=stop_requested)
    run = SourceRun(settings, store, source, run_id, ctx)
    progress.source_started(source, len(todo))
    log.info("source started", extra={"source": source, "run_id": run_id, "tools": len(todo)})
    with on_force_stop(run.interrupt_now):  # a second signal: close the run first
        fatal, interrupted = collect_source(
            run,
            lambda: collector.collect(ctx, todo),
            todo,
            stop_requested,
            lambda tool_id, ok: progress.tool_done(source, tool_id, ok),
        )
    result = run.finish(fatal, interrupted)
    # INFO: `tracker collect` prints the outcome itself (one line per source) and the
    # scheduler logs "job finished" at WARNING/ERROR for a failed job
    log.info(
        "source finished",
        extra={
            "source": source,
            "run_id": run_id,
            "status": result.status,
            "tools_ok": result.tools_ok,
            "tools_failed": result.tools_failed,
            "requests": result.requests,
            "rows": result.rows_written,
        },
    )
    unbind_run()
    return result
