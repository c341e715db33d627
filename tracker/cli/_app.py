"""The typer app of `tracker`: shared options, error exits, settings and the root callback."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from tracker import __version__
from tracker.errors import CatalogError, ConfigError, TrackerError, WarehouseError

if TYPE_CHECKING:
    pass

log = logging.getLogger("tracker.cli")


def _flags_as_flags(params: list[Any]) -> list[Any]:
    """Show boolean flags as flags in --help: no ``<bool>`` value placeholder (typer adds one)."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    return params


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_as_flags(super().get_params(ctx))


class _Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_as_flags(super().get_params(ctx))


app = typer.Typer(
    name="tracker",
    help="Follow the data-engineering and MLOps tooling landscape: collect GitHub stars, releases "
    "and PyPI downloads into DuckDB, and report which skills rise and which fade.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_Group,
)
catalog_app = typer.Typer(
    help="Show or validate the catalog of tracked tools.", no_args_is_help=True, cls=_Group
)
app.add_typer(catalog_app, name="catalog")

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="DuckDB file, or a DuckLake: ducklake:postgres:<conninfo> or "
        "ducklake:/path/catalog.ducklake (default: $TRACKER_DB or ./tracker.duckdb).",
    ),
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print nothing on success (for cron).")
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else there.")
]
SourcesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--source",
        "-s",
        help="Source to run (repeatable): github, pypi, pypistats, clickpy, apache, hn,"
        " stackoverflow. Default: all.",
    ),
]
ToolsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--tool", "-t", help="Tool id to collect (repeatable). Default: every trackable tool."
    ),
]
WaitOpt = Annotated[
    float, typer.Option("--wait", min=0, help="Seconds to wait for another writer to finish.")
]


def _exit_code_for(exc: TrackerError) -> int:
    return 2 if isinstance(exc, ConfigError | CatalogError | WarehouseError) else 1


def _fail(exc: TrackerError, *, as_json: bool = False) -> NoReturn:
    code = _exit_code_for(exc)
    if as_json:
        typer.echo(json.dumps({"error": str(exc), "exit_code": code}))
    typer.echo(f"tracker: error: {exc}", err=True)
    raise typer.Exit(code)


def _as_tracker_error(exc: Exception, settings: Any, out: Path | None = None) -> TrackerError:
    """Return the one-line error for a DuckDB error (damaged file) or an unwritable report dir."""
    from tracker.warehouse.db import is_database_error

    if is_database_error(exc):
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if settings.lake is not None:
            first = settings.lake.mask(first)
        return WarehouseError(f"{settings.db_label}: database error: {first}")
    if isinstance(exc, OSError) and out is not None:
        return ConfigError(f"cannot write the report to {out}: {exc.strerror or exc}")
    raise exc


def _settings(db: str | None) -> Any:
    from tracker.config import load_settings

    return load_settings(db=db)


def _require_db(settings: Any) -> None:
    """Refuse a DB that does not exist (a typo in --db or TRACKER_DB): only `collect` creates
    one, so a reader never publishes an empty report or creates files. A DuckLake counts as
    existing when its catalog does (a PostgreSQL catalog is assumed to)."""
    from tracker.warehouse.db import target_exists

    if not target_exists(settings.db_target):
        what = "DuckLake catalog" if settings.lake is not None else "DuckDB file"
        label = settings.db_label
        raise WarehouseError(
            f"{label}: no such {what}; run `tracker collect --db {label}` first "
            "(or fix --db / TRACKER_DB)"
        )


def _quiet_logs(quiet: bool) -> None:
    if quiet:
        from tracker.logging_setup import quiet_logging

        quiet_logging()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tracker {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    log_level: Annotated[
        str | None,
        typer.Option(help="Log level on stderr: debug, info, warning, error. [default: warning]"),
    ] = None,
    log_format: Annotated[str, typer.Option(help="Log line format: logfmt or json.")] = "logfmt",
    log_libraries: Annotated[
        bool,
        typer.Option(
            "--log-libraries",
            help="Also log the HTTP and scheduling libraries' own lines below warning "
            "(httpx, httpcore, APScheduler) at --log-level.",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Entry point: configure structured logging on stderr."""
    from tracker.logging_setup import setup_logging

    level = log_level or "warning"
    if level.lower() not in ("debug", "info", "warning", "error"):
        typer.echo(
            f"tracker: error: --log-level {level!r}: use debug, info, warning or error",
            err=True,
        )
        raise typer.Exit(2)
    if log_format not in ("logfmt", "json"):
        typer.echo(f"tracker: error: --log-format {log_format!r}: use logfmt or json", err=True)
        raise typer.Exit(2)
    setup_logging(level, log_format, libraries=log_libraries, explicit=log_level is not None)


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Schedule file (TOML). Default: ./tracker.toml when present, else built-in defaults.",
    ),
]


def _fmt(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--as-of {text!r}: expected a date as YYYY-MM-DD") from None
