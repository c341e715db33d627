"""`tracker collect`: run the collectors, with rich progress on a terminal."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import typer

from tracker.errors import TrackerError

if TYPE_CHECKING:
    from tracker.summary import CollectSummary
from tracker.cli._app import Command, app, fail
from tracker.cli._inputs import quiet_logs, settings_of
from tracker.cli._options import DbOpt, JsonOpt, QuietOpt, SourcesOpt, ToolsOpt, WaitOpt


class _RichProgress:
    """Draws a progress bar per source on a terminal (stderr)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def source_started(self, source: str, total: int) -> None:
        self.progress.start()
        self.tasks[source] = self.progress.add_task(source, total=total)

    def tool_done(self, source: str, tool_id: str, ok: bool) -> None:
        self.progress.advance(self.tasks[source])

    def source_finished(self, summary: Any) -> None:
        pass

    def stop(self) -> None:
        self.progress.stop()


@app.command(cls=Command)
def collect(
    source: SourcesOpt = None,
    tool: ToolsOpt = None,
    db: DbOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    wait: WaitOpt = 0.0,
) -> None:
    """Run the collectors and store what they find (exit 0: all stored; 1: some failed; 2: usage/config)."""
    from tracker.runner import ProgressHook, run_collect
    from tracker.signals import StopFlag

    quiet_logs(quiet)
    try:
        settings = settings_of(db)
    except TrackerError as exc:
        fail(exc, as_json=as_json)
    progress: Any = None
    if not quiet and not as_json and sys.stderr.isatty():
        progress = _RichProgress()
    stop = StopFlag()
    try:
        with stop.installed():
            summary = run_collect(
                settings,
                sources=source or (),
                tool_ids=tool or (),
                progress=progress or ProgressHook(),
                lock_wait=wait,
                stop_requested=stop.is_set,
            )
    except TrackerError as exc:
        fail(exc, as_json=as_json)
    finally:
        if progress is not None:
            progress.stop()
    _print_collect(summary, quiet=quiet, as_json=as_json)
    raise typer.Exit(summary.exit_code)


def _print_collect(summary: CollectSummary, *, quiet: bool, as_json: bool) -> None:
    """Print a collect's outcome: JSON, one line per source, or (quiet) only the bad ones."""
    if as_json:
        typer.echo(json.dumps(summary.as_json(), default=str))
    elif not quiet:
        for s in summary.sources:
            typer.echo(s.headline())
        if summary.interrupted:
            typer.echo(
                "stopped by signal: the current tool was finished and stored; run again to go on"
            )
    else:
        for s in summary.sources:
            if s.status not in ("ok", "skipped"):
                typer.echo(s.headline(), err=True)
