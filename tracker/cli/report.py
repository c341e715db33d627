"""`tracker report` and `tracker migrate`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tracker.cli._app import Command, app, as_tracker_error, fail
from tracker.cli._inputs import parse_date, quiet_logs, reader_inputs, settings_of
from tracker.cli._options import DbOpt, JsonOpt, QuietOpt
from tracker.clock import utc_now
from tracker.errors import TrackerError


@app.command(cls=Command)
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
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            help="Seconds to wait for a running collect to release the DB (the report stores "
            "its labels in tool_labels, so it takes the writer lock; a DuckLake has none).",
        ),
    ] = 0.0,
) -> None:
    """Write the trend report from the warehouse and store its labels in `tool_labels` /
    `skill_labels` (exit 0, or 2 on a usage error)."""
    from tracker.reports import run_report

    quiet_logs(quiet)
    settings = None
    try:
        settings = settings_of(db)
        when = parse_date(as_of) if as_of else utc_now().date()
        reader_inputs(settings)
        result = run_report(settings, out, when, wait)
    except TrackerError as exc:
        fail(exc, as_json=as_json)
    except Exception as exc:  # noqa: BLE001 - DuckDB errors become one line; others re-raise
        fail(as_tracker_error(exc, settings, out), as_json=as_json)
    if as_json:
        typer.echo(
            json.dumps({"files": [str(p) for p in result.files], "missing": list(result.missing)})
        )
    elif not quiet:
        for path in result.files:
            typer.echo(f"wrote {path}")
        for item in result.missing:
            typer.echo(f"note: {item}")


@app.command(cls=Command)
def migrate(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="Destination: ducklake:postgres:<conninfo>, ducklake:/path/catalog.ducklake, "
            "or parquet:DIR (an export, to cross DuckDB versions).",
        ),
    ],
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Source: DuckDB file, ducklake: target or parquet:DIR "
            "(default: $TRACKER_DB or ./tracker.duckdb).",
        ),
    ] = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Copy a whole warehouse into an empty DuckLake (or a Parquet export); row counts are
    compared afterwards (exit 0, or 2 on an error)."""
    import os

    from tracker.warehouse.transfer import migrate as run_migrate
    from tracker.warehouse.transfer import parse_endpoint

    quiet_logs(quiet)
    try:
        data_path = (os.environ.get("TRACKER_DATA_PATH") or "").strip() or None
        source = settings_of(None).db_target if db is None else parse_endpoint(db, data_path)
        dest = parse_endpoint(to, data_path)
        result = run_migrate(source, dest)
    except TrackerError as exc:
        fail(exc, as_json=as_json)
    if as_json:
        typer.echo(json.dumps(result.as_json()))
    elif not quiet:
        for table, rows in result.rows.items():
            typer.echo(f"{table}: {rows} rows")
        typer.echo(f"migrated {result.source} to {result.dest}")
