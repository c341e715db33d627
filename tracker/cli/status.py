"""`tracker status`: freshness, last runs and recent errors per source."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from tracker.cli._app import Command, app, as_tracker_error, fail
from tracker.cli._inputs import fmt, quiet_logs, reader_inputs, settings_of
from tracker.cli._options import ConfigOpt, DbOpt, JsonOpt, QuietOpt
from tracker.errors import TrackerError

if TYPE_CHECKING:
    from tracker.status import StatusModel


@app.command(cls=Command)
def status(
    db: DbOpt = None,
    config: ConfigOpt = None,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if a source is stale or never succeeded.")
    ] = False,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Show per source: last run, last success, freshness against its schedule, stored rows,
    stale tools, recent errors (exit 0; with --check, 1 when a source is stale)."""
    from tracker.schedule_config import load_schedule_config
    from tracker.status import read_status_model

    quiet_logs(quiet)
    settings = None
    try:
        settings = settings_of(db)
        schedule_cfg = load_schedule_config(config)
        reader_inputs(settings)
        model = read_status_model(settings, schedule_cfg, check=check)
    except TrackerError as exc:
        fail(exc, as_json=as_json)
    except Exception as exc:  # noqa: BLE001 - DuckDB errors become one line; others re-raise
        fail(as_tracker_error(exc, settings), as_json=as_json)
    if as_json:
        typer.echo(json.dumps(model.as_json(), default=str))
    elif quiet:
        for line in model.stale:
            typer.echo(f"tracker: stale: {line.source}: {line.freshness['summary']}", err=True)
    else:
        _print_status(model)
    raise typer.Exit(model.exit_code)


def _print_status(model: StatusModel) -> None:
    """The status table, the recent errors, and with --check the verdict (stale ones on stderr)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"tracker status: {model.db}")
    for col in (
        "source",
        "last run (UTC)",
        "status",
        "last success (UTC)",
        "freshness",
        "rows",
        "stale tools",
    ):
        table.add_column(col)
    for line in model.sources:
        st, lr = line.status, line.status.last_run
        table.add_row(
            st.source,
            fmt(lr.started_at) if lr else "never",
            lr.status if lr else "-",
            fmt(st.last_success_at),
            str(line.freshness["summary"]),
            str(st.rows),
            ", ".join(st.stale_tools[:6]) + (" ..." if len(st.stale_tools) > 6 else "") or "-",
        )
    console = Console(soft_wrap=True)
    console.print(table)
    for line in model.sources:
        for e in line.status.recent_errors:
            console.print(f"[dim]{fmt(e.at)}[/dim] {line.source}/{e.tool_id or '*'}: ", end="")
            console.print(e.error, markup=False, highlight=False)
    if model.check:
        for line in model.stale:
            typer.echo(f"stale: {line.source}: {line.freshness['summary']}", err=True)
        if not model.stale:
            typer.echo("ok: every enabled source is fresh")
