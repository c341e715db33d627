"""One source's run: its `runs` row, its outcomes stored as they come, its summary.

The collector runs on a producer thread (it never touches the warehouse: it reads the immutable
plan in ``ctx.state``) and hands its outcomes over a queue; this thread owns the connection and
stores them. Whatever has queued up while the previous write ran is stored in ONE transaction
(group commit), so a fast source does not wait on one commit per tool, and a slow one still
stores each tool as soon as it arrives. A tool's data is never split across transactions; if a
group's transaction fails, its tools are stored one by one so that only the bad one fails.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import cast

from tracker.catalog import Tool
from tracker.collectors.base import CollectContext
from tracker.config import Settings
from tracker.records import ToolBatch, ToolFailure, ToolOutcome
from tracker.summary import SourceSummary
from tracker.warehouse.store import Store

__all__ = ["SourceRun", "collect_source", "in_groups"]

log = logging.getLogger(__name__)

GROUP_TOOLS = 64  # at most this many tools per transaction (bounds what a crash can lose)

_DONE = object()


def in_groups(
    outcomes: Iterable[ToolOutcome], stop: threading.Event
) -> Iterator[list[ToolOutcome]]:
    """Yield ``outcomes`` in order, as lists of what was ready together (at least one each).

    ``outcomes`` is iterated on a producer thread; an exception it raises is re-raised here,
    after the outcomes before it. Setting ``stop`` (or closing this generator) makes the
    producer stop at its next outcome.
    """
    handoff: queue.Queue[object] = queue.Queue(maxsize=4 * GROUP_TOOLS)

    def produce() -> None:
        items = iter(outcomes)
        try:
            for outcome in items:
                handoff.put(outcome)
                if stop.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consuming thread
            handoff.put(exc)
        finally:
            close = getattr(items, "close", None)  # a generator: end it on its own thread
            try:
                if close is not None:
                    close()
            except Exception:  # the outcomes are in; only log the cleanup
                log.exception("collector cleanup failed")
            handoff.put(_DONE)

    producer = threading.Thread(target=produce, name="collect", daemon=True)
    producer.start()
    try:
        done = False
        while not done:
            group: list[ToolOutcome] = []
            item = handoff.get()
            while True:
                if item is _DONE:
                    done = True
                    break
                if isinstance(item, BaseException):
                    if group:
                        yield group
                    raise item
                group.append(cast(ToolOutcome, item))
                if len(group) >= GROUP_TOOLS:
                    break
                try:
                    item = handoff.get_nowait()
                except queue.Empty:
                    break
            if group:
                yield group
    finally:
        stop.set()
        while producer.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                handoff.get(timeout=0.05)
        producer.join()


@dataclass(eq=False)
class SourceRun:
    """The bookkeeping of one source's run: stores outcomes, counts them, logs them."""

    settings: Settings
    store: Store
    source: str
    run_id: int
    ctx: CollectContext
    started: float = field(default_factory=time.monotonic)
    result: SourceSummary = field(init=False)

    def __post_init__(self) -> None:
        self.result = SourceSummary(source=self.source, run_id=self.run_id)

    def interrupt_now(self) -> None:
        """A second signal ends the process: close the run with what is stored so far."""
        result = self.result
        self.store.interrupt_run(
            self.run_id,
            tools_ok=result.tools_ok,
            tools_failed=result.tools_failed,
            requests=self.ctx.requests.value,
            rows_written=result.rows_written,
        )

    def fail(self, tool_id: str | None, error: str) -> None:
        """Record the failure of ``tool_id`` (None: the whole source)."""
        self.store.add_run_error(self.run_id, self.source, tool_id, error)
        self.result.errors.append((tool_id, error))
        if tool_id is None:
            return
        self.result.tools_failed += 1
        log.info(  # details are in run_errors; the source's summary line is a warning
            "tool failed",
            extra={
                "source": self.source,
                "run_id": self.run_id,
                "tool_id": tool_id,
                "error": error,
            },
        )

    def store_group(self, outcomes: Sequence[ToolOutcome]) -> None:
        """Store a group of outcomes: the batches in one transaction, then each failure."""
        errors = self._write([o for o in outcomes if isinstance(o, ToolBatch)])
        for outcome in outcomes:
            if isinstance(outcome, ToolFailure):
                self.fail(outcome.tool_id, outcome.error)
            elif outcome.tool_id in errors:
                self.fail(outcome.tool_id, errors[outcome.tool_id])
            else:
                self._stored(outcome)

    def _write(self, batches: list[ToolBatch]) -> dict[str, str]:
        """Write ``batches`` in one transaction, or one by one when that fails; return the
        error of each tool that could not be stored."""
        if not batches:
            return {}
        try:
            self.store.write_batches(batches)
            return {}
        except Exception as exc:  # noqa: BLE001 - a bad batch must not stop the other tools
            if len(batches) == 1:
                return {batches[0].tool_id: self._store_failed(exc)}
        errors = {}
        for batch in batches:
            try:
                self.store.write_batch(batch)
            except Exception as exc:  # noqa: BLE001 - only this tool fails
                errors[batch.tool_id] = self._store_failed(exc)
        return errors

    def _store_failed(self, exc: Exception) -> str:
        return self.settings.mask(f"store failed: {type(exc).__name__}: {exc}")

    def _stored(self, batch: ToolBatch) -> None:
        result, extra = self.result, {"source": self.source, "run_id": self.run_id}
        result.rows_written += batch.rows
        for name, value in batch.counters:
            result.counters[name] = result.counters.get(name, 0) + value
        for warning in batch.warnings:
            result.warnings.append((batch.tool_id, warning))
            log.warning(
                "tool warning", extra={**extra, "tool_id": batch.tool_id, "warning": warning}
            )
        if batch.errors:
            # part of the tool was stored; the rest failed: counts as a failure of the tool
            self.fail(batch.tool_id, "; ".join(batch.errors))
        else:
            result.tools_ok += 1
            log.info("tool stored", extra={**extra, "tool_id": batch.tool_id, "rows": batch.rows})

    def finish(self, fatal: str | None, interrupted: bool) -> SourceSummary:
        """Set the run's status and counters, close its `runs` row; return the summary."""
        result = self.result
        result.requests = self.ctx.requests.value
        result.seconds = time.monotonic() - self.started
        if interrupted:
            result.status = "interrupted"
        elif result.tools_failed == 0 and fatal is None:
            result.status = "ok"
        elif result.tools_ok == 0 and result.rows_written == 0:
            result.status = "failed"  # nothing stored; rows stored for failed tools: partial
        else:
            result.status = "partial"
        self.store.finish_run(
            self.run_id,
            status=result.status,
            tools_ok=result.tools_ok,
            tools_failed=result.tools_failed,
            requests=result.requests,
            rows_written=result.rows_written,
            error=fatal,
        )
        return result


def collect_source(
    run: SourceRun,
    outcomes: Callable[[], Iterable[ToolOutcome]],
    todo: Sequence[Tool],
    stop_requested: Callable[[], bool],
    on_tool: Callable[[str, bool], None],
) -> tuple[str | None, bool]:
    """Store the outcomes of one source; return (fatal error, interrupted)."""
    remaining = {t.id for t in todo}
    fatal: str | None = None
    cut_short = 0  # tools that failed once a stop was requested (most: "stop requested")
    stop = threading.Event()
    try:
        for group in in_groups(outcomes(), stop):
            if stop_requested():  # store the tool in progress, not the ones queued behind it
                group = group[:1]
            failed_before = run.result.tools_failed
            run.store_group(group)
            for outcome in group:
                remaining.discard(outcome.tool_id)
                on_tool(outcome.tool_id, isinstance(outcome, ToolBatch))
            if stop_requested():
                cut_short += run.result.tools_failed > failed_before
                break
    except Exception as exc:
        fatal = run.settings.mask(f"{type(exc).__name__}: {exc}")
        log.exception("source failed", extra={"source": run.source, "run_id": run.run_id})
        run.fail(None, fatal)
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
        run.fail(tool_id, reason)
    return fatal, interrupted
