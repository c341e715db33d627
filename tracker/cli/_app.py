"""The typer app of `tracker`: shared options, error exits, settings and the root callback."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from tracker import __version__
from tracker.errors import CatalogError, ConfigError, TrackerError, WarehouseError

log = logging.getLogger("tracker.cli")


def _flags_as_flags(params: list[Any]) -> list[Any]:
    """Show boolean flags as flags in --help: no ``<bool>`` value placeholder (typer adds one)."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    return params


class Command(TyperCommand):
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


def _exit_code_for(exc: TrackerError) -> int:
    return 2 if isinstance(exc, ConfigError | CatalogError | WarehouseError) else 1


def fail(exc: TrackerError, *, as_json: bool = False) -> NoReturn:
    code = _exit_code_for(exc)
    if as_json:
        typer.echo(json.dumps({"error": str(exc), "exit_code": code}))
    typer.echo(f"tracker: error: {exc}", err=True)
    raise typer.Exit(code)


def as_tracker_error(exc: Exception, settings: Any, out: Path | None = None) -> TrackerError:
    """Return the one-line error for a DuckDB error (damaged file) or an unwritable report dir."""
    from tracker.warehouse.db import is_database_error

    if is_database_error(exc):
        error: WarehouseError = settings.database_error(exc)
        return error
    if isinstance(exc, OSError) and out is not None:
        return ConfigError(f"cannot write the report to {out}: {exc.strerror or exc}")
    raise exc


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
