"""The `tracker` command line (typer). Thin: parses arguments and calls the modules."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from tracker import __version__
from tracker.errors import CatalogError, ConfigError, TrackerError, WarehouseError

__all__ = ["app"]

log = logging.getLogger("tracker.cli")

app = typer.Typer(
    name="tracker",
    help="Follow the data-engineering and MLOps tooling landscape: collect GitHub stars, releases "
    "and PyPI downloads into DuckDB, and report which skills rise and which fade.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
catalog_app = typer.Typer(
    help="Show or validate the catalog of tracked tools.", no_args_is_help=True
)
app.add_typer(catalog_app, name="catalog")

DbOpt = Annotated[
    Path | None,
    typer.Option("--db", help="DuckDB file (default: $TRACKER_DB or ./tracker.duckdb)."),
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print nothing on success (for cron).")
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else there.")
]


def _exit_code_for(exc: TrackerError) -> int:
    return 2 if isinstance(exc, ConfigError | CatalogError | WarehouseError) else 1


def _fail(exc: TrackerError, *, as_json: bool = False) -> NoReturn:
    code = _exit_code_for(exc)
    if as_json:
        typer.echo(json.dumps({"error": str(exc), "exit_code": code}))
    typer.echo(f"tracker: error: {exc}", err=True)
    raise typer.Exit(code)


def _settings(db: Path | None) -> Any:
    from tracker.config import load_settings

    return load_settings().with_db(db)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tracker {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    log_level: Annotated[
        str, typer.Option(help="Log level on stderr: debug, info, warning, error.")
    ] = "warning",
    log_format: Annotated[str, typer.Option(help="Log line format: logfmt or json.")] = "logfmt",
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Entry point: configure structured logging on stderr."""
    from tracker.logging_setup import setup_logging

    if log_level.lower() not in ("debug", "info", "warning", "error"):
        typer.echo(
            f"tracker: error: --log-level {log_level!r}: use debug, info, warning or error",
            err=True,
        )
        raise typer.Exit(2)
    if log_format not in ("logfmt", "json"):
        typer.echo(f"tracker: error: --log-format {log_format!r}: use logfmt or json", err=True)
        raise typer.Exit(2)
    setup_logging(log_level, log_format)


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


@app.command()
def collect(
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            "-s",
            help="Source to run (repeatable): github, pypi, pypistats, clickpy, apache. Default: all.",
        ),
    ] = None,
    tool: Annotated[
        list[str] | None,
        typer.Option(
            "--tool", "-t", help="Tool id to collect (repeatable). Default: every trackable tool."
        ),
    ] = None,
    db: DbOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    wait: Annotated[
        float, typer.Option("--wait", min=0, help="Seconds to wait for another writer to finish.")
    ] = 0.0,
) -> None:
    """Run the collectors and store what they find (exit 0: all stored; 1: some failed; 2: usage/config)."""
    from tracker.runner import ProgressHook, run_collect

    try:
        settings = _settings(db)
    except TrackerError as exc:
        _fail(exc, as_json=as_json)
    progress: Any = None
    if not quiet and not as_json and sys.stderr.isatty():
        progress = _RichProgress()
    from tracker.signals import StopFlag

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
        _fail(exc, as_json=as_json)
    finally:
        if progress is not None:
            progress.stop()
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
    raise typer.Exit(summary.exit_code)


@app.command()
def report(
    db: DbOpt = None,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Directory for index.html, summary.md and trends.json."),
    ] = Path("reports-out"),
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Report date YYYY-MM-DD (default: today, UTC).")
    ] = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Write the trend report from the warehouse (exit 0, or 2 on a usage error)."""
    from tracker.reports import write_report
    from tracker.warehouse.db import open_db

    try:
        settings = _settings(db)
        when = _parse_date(as_of) if as_of else datetime.now(UTC).date()
        con = open_db(settings.db_path, read_only=True)
        try:
            result = write_report(con, out, when)
        finally:
            con.close()
    except TrackerError as exc:
        _fail(exc, as_json=as_json)
    except OSError as exc:
        _fail(ConfigError(f"cannot write the report to {out}: {exc.strerror}"), as_json=as_json)
    if as_json:
        typer.echo(
            json.dumps({"files": [str(p) for p in result.files], "missing": list(result.missing)})
        )
    elif not quiet:
        for path in result.files:
            typer.echo(f"wrote {path}")
        for item in result.missing:
            typer.echo(f"note: no data in {item}")


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--as-of {text!r}: expected a date as YYYY-MM-DD") from None


@app.command()
def status(
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show per source: last run, last success, stored rows, stale tools, recent errors."""
    from tracker.collectors.base import SOURCES
    from tracker.warehouse.db import open_db
    from tracker.warehouse.store import Store

    try:
        settings = _settings(db)
        if not settings.db_path.exists():
            raise WarehouseError(
                f"{settings.db_path} does not exist yet; run `tracker collect` first"
            )
        con = open_db(settings.db_path, read_only=True)
        try:
            store = Store(con)
            states = [store.source_status(s) for s in SOURCES]
        finally:
            con.close()
    except TrackerError as exc:
        _fail(exc, as_json=as_json)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "db": str(settings.db_path),
                    "sources": [
                        {
                            "source": st.source,
                            "last_run": None
                            if st.last_run is None
                            else {
                                "run_id": st.last_run.run_id,
                                "started_at": st.last_run.started_at,
                                "finished_at": st.last_run.finished_at,
                                "status": st.last_run.status,
                                "tools_ok": st.last_run.tools_ok,
                                "tools_failed": st.last_run.tools_failed,
                                "requests": st.last_run.requests,
                            },
                            "last_success_at": st.last_success_at,
                            "rows": st.rows,
                            "stale_tools": list(st.stale_tools),
                            "recent_errors": [
                                {"at": at, "tool_id": t, "error": e}
                                for at, t, e in st.recent_errors
                            ],
                        }
                        for st in states
                    ],
                },
                default=str,
            )
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"tracker status: {settings.db_path}")
    for col in ("source", "last run (UTC)", "status", "last success (UTC)", "rows", "stale tools"):
        table.add_column(col)
    for st in states:
        lr = st.last_run
        table.add_row(
            st.source,
            _fmt(lr.started_at) if lr else "never",
            lr.status if lr else "-",
            _fmt(st.last_success_at),
            str(st.rows),
            ", ".join(st.stale_tools[:6]) + (" ..." if len(st.stale_tools) > 6 else "") or "-",
        )
    console = Console(soft_wrap=True)
    console.print(table)
    for st in states:
        for at, tool_id, error in st.recent_errors:
            console.print(f"[dim]{_fmt(at)}[/dim] {st.source}/{tool_id or '*'}: ", end="")
            console.print(error, markup=False, highlight=False)


def _fmt(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"


@catalog_app.command("list")
def catalog_list(as_json: JsonOpt = False) -> None:
    """List the catalog's tools grouped by skill, with their sources."""
    from tracker.runner import load_configured_catalog

    try:
        catalog = load_configured_catalog(_settings(None))
    except TrackerError as exc:
        _fail(exc, as_json=as_json)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "skills": catalog.skills,
                    "tools": [
                        {
                            "id": t.id,
                            "name": t.name,
                            "skill": t.skill,
                            "github": t.github,
                            "pypi": list(t.pypi),
                            "apache": t.apache,
                            "formerly": list(t.formerly),
                            "trackable": t.trackable,
                            "notes": t.notes,
                        }
                        for t in catalog.tools
                    ],
                }
            )
        )
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=True)
    groups = catalog.by_skill()
    for skill, tools in groups.items():
        table = Table(
            title=f"{catalog.skills.get(skill, skill)} ({skill}, {len(tools)} tools)",
            title_justify="left",
        )
        table.add_column("id")
        table.add_column("name")
        table.add_column("sources")
        for t in tools:
            sources = t.sources_hint if t.trackable else f"not trackable: {t.notes}"
            table.add_row(t.id, t.name, sources)
        console.print(table)
    trackable = sum(t.trackable for t in catalog.tools)
    console.print(
        f"{len(catalog.tools)} tools ({trackable} trackable) in {len(groups)} skills;"
        f" files: {', '.join(catalog.files)}",
        markup=False,
    )


@catalog_app.command("validate")
def catalog_validate(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Catalog YAML to check (merged over the bundled one). Default: the bundled catalog plus $TRACKER_CATALOG."
        ),
    ] = None,
) -> None:
    """Validate a catalog file; errors name the file, line and field (exit 2)."""
    from tracker.catalog import load_catalog
    from tracker.runner import load_configured_catalog

    try:
        catalog = load_catalog([file]) if file else load_configured_catalog(_settings(None))
    except TrackerError as exc:
        _fail(exc)
    typer.echo(
        f"ok: {len(catalog.tools)} tools in {len(catalog.skills)} skills ({', '.join(catalog.files)})"
    )


@app.command()
def schedule(db: DbOpt = None) -> None:
    """Run the collectors on their schedules until SIGINT/SIGTERM."""
    typer.echo("tracker: error: `tracker schedule` is not available in this version yet", err=True)
    raise typer.Exit(2)
