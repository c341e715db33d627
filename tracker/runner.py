"""Run collectors: one `runs` row per source, one transaction per (source, tool), errors logged.

Used by `tracker collect` and by the scheduler's jobs.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracker.catalog import Catalog, Tool, load_catalog
from tracker.clock import Clock
from tracker.collectors.base import SOURCES, CollectContext, get_collector
from tracker.config import Settings
from tracker.errors import ConfigError, WarehouseError
from tracker.logging_setup import bind_run, unbind_run
from tracker.records import ToolBatch, ToolFailure
from tracker.signals import add_force_stop
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


class ProgressHook:
    """Receives progress events; the CLI draws them with rich on a terminal."""

    def source_started(self, source: str, total: int) -> None:
        """A source starts with ``total`` tools."""

    def tool_done(self, source: str, tool_id: str, ok: bool) -> None:
        """One tool of a source is done."""

    def source_finished(self, summary: SourceSummary) -> None:
        """A source is done."""


@dataclass(slots=True)
class SourceSummary:
    """Outcome of one source in one collect."""

    source: str
    run_id: int | None = None
    status: str = "ok"  # ok | partial | failed | skipped | interrupted
    tools_ok: int = 0
    tools_failed: int = 0
    requests: int = 0
    rows_written: int = 0
    seconds: float = 0.0
    errors: list[tuple[str | None, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    note: str | None = None

    def headline(self) -> str:
        """Return one line describing this source's outcome."""
        if self.status == "skipped":
            return f"{self.source}: skipped ({self.note})"
        base = (
            f"{self.source}: {self.status}, {_n(self.tools_ok, 'tool')} stored, "
            f"{self.tools_failed} failed, {_n(self.rows_written, 'row')}, "
            f"{_n(self.requests, 'request')}, {self.seconds:.1f}s"
        )
        if self.errors:
            kinds = Counter(_error_kind(e) for _, e in self.errors)
            kind, count = kinds.most_common(1)[0]
            if count == 1:  # one error of its kind: show it whole, URL path included
                kind = next(e for _, e in self.errors if _error_kind(e) == kind)
                kind = kind.splitlines()[0][:300]
                base += f"; error: {kind}"
            else:
                base += f"; error ({count} tools): {kind}"
        return base

    def as_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "source": self.source,
            "run_id": self.run_id,
            "status": self.status,
            "tools_ok": self.tools_ok,
            "tools_failed": self.tools_failed,
            "requests": self.requests,
            "rows_written": self.rows_written,
            "seconds": round(self.seconds, 3),
            "note": self.note,
            "counters": self.counters,
            "errors": [{"tool_id": t, "error": e} for t, e in self.errors],
            "warnings": [{"tool_id": t, "warning": w} for t, w in self.warnings],
        }


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


_URL_PATH = re.compile(r"(https?://[^/\s]+)[^\s;,)]*")
_SKIPPED_NOTE = "; not tried after the first failure"


def _error_kind(error: str) -> str:
    # the first error line without URL paths (each tool names its own URL) and shortened:
    # the same failure of many tools counts as one kind in the one-line summary
    first = error.splitlines()[0].replace(_SKIPPED_NOTE, "")
    first = re.split(r"; (?=not (?:fully )?collected)", first)[0]  # a tool's first package
    return _URL_PATH.sub(r"\1/…", first)[:300]


@dataclass(slots=True)
class CollectSummary:
    """Outcome of one `tracker collect`."""

    db_path: str
    sources: list[SourceSummary] = field(default_factory=list)
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        """Return 0 when everything was stored, 1 when something failed."""
        bad = {"partial", "failed", "interrupted"}
        return 1 if self.interrupted or any(s.status in bad for s in self.sources) else 0

    def as_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "db": self.db_path,
            "exit_code": self.exit_code,
            "interrupted": self.interrupted,
            "sources": [s.as_json() for s in self.sources],
        }


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
    context_factory: Callable[[Settings, Store], CollectContext] | None = None,
    clock: Clock | None = None,
) -> CollectSummary:
    """Collect ``sources`` (default all) for ``tool_ids`` (default all trackable) into the DB.

    ``clock`` (default: the wall clock, or the clock of ``context_factory``'s contexts) is the
    one clock of the run: collectors read it as ``ctx.now`` and the store stamps the run log with
    it. Raises ConfigError / CatalogError / WarehouseError before anything is written.
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
            store = Store(con)
            new_context = _context_maker(context_factory, clock)
            store.clock = new_context(settings, store).now  # one clock for the run log too
            if store.mark_interrupted_runs():
                log.warning("closed runs left open by an interrupted earlier process")
            store.refresh_tools(catalog)
            for source in wanted:
                if stop_requested():
                    summary.interrupted = True
                    break
                result = _run_source(
                    settings, store, source, tools, progress, stop_requested, new_context
                )
                summary.sources.append(result)
                progress.source_finished(result)
                if result.status == "interrupted":
                    summary.interrupted = True
                    break
        except Exception as exc:
            if is_database_error(exc):  # a damaged file: one clear line, exit 2
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                if settings.lake is not None:
                    first = settings.lake.mask(first)
                raise WarehouseError(f"{settings.db_label}: database error: {first}") from exc
            raise
        finally:
            unbind_run()
    return summary


def _context_maker(
    factory: Callable[[Settings, Store], CollectContext] | None, clock: Clock | None
) -> Callable[[Settings, Store], CollectContext]:
    if factory is not None:
        return factory
    if clock is not None:
        return lambda settings, store: CollectContext(settings=settings, state=store, now=clock)
    return lambda settings, store: CollectContext(settings=settings, state=store)


def _run_source(
    settings: Settings,
    store: Store,
    source: str,
    tools: Sequence[Tool],
    progress: ProgressHook,
    stop_requested: Callable[[], bool],
    new_context: Callable[[Settings, Store], CollectContext],
) -> SourceSummary:
    result = SourceSummary(source=source)
    collector = get_collector(source)
    if collector is None:
        result.status, result.note = "skipped", "not implemented in this version"
        return result
    todo = [t for t in tools if collector.applicable(t)]
    if not todo:
        result.status, result.note = "skipped", "no selected tool has data in this source"
        return result
    started = time.monotonic()
    run_id = store.start_run(source)
    result.run_id = run_id
    bind_run(run_id, source)  # every log line of this source's run carries its run_id
    ctx = new_context(settings, store)
    ctx.stop_requested = stop_requested
    # the collector gets its cursors as an immutable plan, never the store
    ctx.state = read_plan(store.con, source, [t.id for t in todo], ctx.now())
    progress.source_started(source, len(todo))
    log.info("source started", extra={"source": source, "run_id": run_id, "tools": len(todo)})
    remaining = {t.id for t in todo}
    fatal: str | None = None
    cut_short = 0  # tools that failed once a stop was requested (most: "stop requested")

    def interrupt_now() -> None:  # a second signal ends the process: close the run first
        store.interrupt_run(
            run_id,
            tools_ok=result.tools_ok,
            tools_failed=result.tools_failed,
            requests=ctx.requests.value,
            rows_written=result.rows_written,
        )

    forget_interrupt = add_force_stop(interrupt_now)
    try:
        for outcome in collector.collect(ctx, todo):
            remaining.discard(outcome.tool_id)
            failed_before = result.tools_failed
            if isinstance(outcome, ToolFailure):
                _fail(store, result, run_id, source, outcome.tool_id, outcome.error)
            else:
                _store_batch(store, result, run_id, source, outcome, settings)
            if stop_requested() and result.tools_failed > failed_before:
                cut_short += 1
            progress.tool_done(source, outcome.tool_id, isinstance(outcome, ToolBatch))
            if stop_requested():
                break
    except Exception as exc:
        fatal = _masked(settings, f"{type(exc).__name__}: {exc}")
        log.exception("source failed", extra={"source": source, "run_id": run_id})
        store.add_run_error(run_id, source, None, fatal)
        result.errors.append((None, fatal))
    # a stop that left tools undone is an interrupted run, never a success: collectors that
    # answer "not collected (stop requested)" for the rest count as well as tools never reached
    interrupted = stop_requested() and (bool(remaining) or cut_short > 0)
    for tool_id in sorted(remaining):
        reason = (
            "not collected: stop requested"
            if interrupted
            else f"not collected: {fatal}"
            if fatal
            else "not collected: collector gave no result"
        )
        _fail(store, result, run_id, source, tool_id, reason)
    result.requests = ctx.requests.value
    result.seconds = time.monotonic() - started
    if interrupted:
        result.status = "interrupted"
    elif result.tools_failed == 0 and fatal is None:
        result.status = "ok"
    elif result.tools_ok == 0 and result.rows_written == 0:
        result.status = "failed"  # nothing stored; rows stored for failed tools make it partial
    else:
        result.status = "partial"
    forget_interrupt()  # from here on the run is closed normally
    store.finish_run(
        run_id,
        status=result.status,
        tools_ok=result.tools_ok,
        tools_failed=result.tools_failed,
        requests=result.requests,
        rows_written=result.rows_written,
        error=fatal,
    )
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


def _fail(
    store: Store, result: SourceSummary, run_id: int, source: str, tool_id: str, error: str
) -> None:
    store.add_run_error(run_id, source, tool_id, error)
    result.tools_failed += 1
    result.errors.append((tool_id, error))
    log.info(  # details are in run_errors; the source's summary line is a warning
        "tool failed",
        extra={"source": source, "run_id": run_id, "tool_id": tool_id, "error": error},
    )


def _masked(settings: Settings, text: str) -> str:
    """Return ``text`` with the lake catalog's password masked (a file target: unchanged)."""
    return settings.lake.mask(text) if settings.lake is not None else text


def _store_batch(
    store: Store,
    result: SourceSummary,
    run_id: int,
    source: str,
    batch: ToolBatch,
    settings: Settings,
) -> None:
    try:
        rows = store.write_batch(batch)
    except Exception as exc:  # noqa: BLE001 - a bad batch must not stop the other tools
        _fail(
            store,
            result,
            run_id,
            source,
            batch.tool_id,
            _masked(settings, f"store failed: {type(exc).__name__}: {exc}"),
        )
        return
    result.rows_written += rows
    for name, value in batch.counters:
        result.counters[name] = result.counters.get(name, 0) + value
    for warning in batch.warnings:
        result.warnings.append((batch.tool_id, warning))
        log.warning(
            "tool warning",
            extra={
                "source": source,
                "run_id": run_id,
                "tool_id": batch.tool_id,
                "warning": warning,
            },
        )
    if batch.errors:
        # part of the tool was stored; the rest failed: counts as a failure of the tool
        _fail(store, result, run_id, source, batch.tool_id, "; ".join(batch.errors))
    else:
        result.tools_ok += 1
        log.info(
            "tool stored",
            extra={"source": source, "run_id": run_id, "tool_id": batch.tool_id, "rows": rows},
        )
