"""The `tracker` command line (typer). Thin: parses arguments and calls the modules."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from tracker import __version__
from tracker.errors import CatalogError, ConfigError, TrackerError, WarehouseError

if TYPE_CHECKING:
    from tracker.catalog import JobTerms
    from tracker.config import Settings
    from tracker.schedule_config import ScheduleConfig
    from tracker.status import StatusModel
    from tracker.summary import CollectSummary

__all__ = ["app"]

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


@app.command(cls=_Command)
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

    _quiet_logs(quiet)
    try:
        settings = _settings(db)
    except TrackerError as exc:
        _fail(exc, as_json=as_json)
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
        _fail(exc, as_json=as_json)
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


@app.command(cls=_Command)
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
    from tracker.runner import load_configured_catalog

    _quiet_logs(quiet)
    settings = None
    try:
        settings = _settings(db)
        when = _parse_date(as_of) if as_of else datetime.now(UTC).date()
        load_configured_catalog(settings)  # a broken TRACKER_CATALOG fails here, as everywhere
        _require_db(settings)
        result = run_report(settings, out, when, wait)
    except TrackerError as exc:
        _fail(exc, as_json=as_json)
    except Exception as exc:  # noqa: BLE001 - DuckDB errors become one line; others re-raise
        _fail(_as_tracker_error(exc, settings, out), as_json=as_json)
    if as_json:
        typer.echo(
            json.dumps({"files": [str(p) for p in result.files], "missing": list(result.missing)})
        )
    elif not quiet:
        for path in result.files:
            typer.echo(f"wrote {path}")
        for item in result.missing:
            typer.echo(f"note: {item}")


@app.command(cls=_Command)
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

    _quiet_logs(quiet)
    try:
        data_path = (os.environ.get("TRACKER_DATA_PATH") or "").strip() or None
        source = _settings(None).db_target if db is None else parse_endpoint(db, data_path)
        dest = parse_endpoint(to, data_path)
        result = run_migrate(source, dest)
    except TrackerError as exc:
        _fail(exc, as_json=as_json)
    if as_json:
        typer.echo(json.dumps(result.as_json()))
    elif not quiet:
        for table, rows in result.rows.items():
            typer.echo(f"{table}: {rows} rows")
        typer.echo(f"migrated {result.source} to {result.dest}")


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--as-of {text!r}: expected a date as YYYY-MM-DD") from None


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Schedule file (TOML). Default: ./tracker.toml when present, else built-in defaults.",
    ),
]


@app.command(cls=_Command)
def status(
    db: DbOpt = None,
    config: ConfigOpt = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Exit 1 when an enabled source is stale or never succeeded (for monitoring).",
        ),
    ] = False,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Show per source: last run, last success, freshness against its schedule, stored rows,
    stale tools, recent errors (exit 0; with --check, 1 when a source is stale)."""
    from tracker.runner import load_configured_catalog
    from tracker.schedule_config import load_schedule_config
    from tracker.status import read_status_model

    _quiet_logs(quiet)
    settings = None
    try:
        settings = _settings(db)
        schedule_cfg = load_schedule_config(config)
        load_configured_catalog(settings)  # a broken TRACKER_CATALOG fails before the DB opens
        _require_db(settings)
        model = read_status_model(settings, schedule_cfg, check=check)
    except TrackerError as exc:
        _fail(exc, as_json=as_json)
    except Exception as exc:  # noqa: BLE001 - DuckDB errors become one line; others re-raise
        _fail(_as_tracker_error(exc, settings), as_json=as_json)
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
            _fmt(lr.started_at) if lr else "never",
            lr.status if lr else "-",
            _fmt(st.last_success_at),
            str(line.freshness["summary"]),
            str(st.rows),
            ", ".join(st.stale_tools[:6]) + (" ..." if len(st.stale_tools) > 6 else "") or "-",
        )
    console = Console(soft_wrap=True)
    console.print(table)
    for line in model.sources:
        for e in line.status.recent_errors:
            console.print(f"[dim]{_fmt(e.at)}[/dim] {line.source}/{e.tool_id or '*'}: ", end="")
            console.print(e.error, markup=False, highlight=False)
    if model.check:
        for line in model.stale:
            typer.echo(f"stale: {line.source}: {line.freshness['summary']}", err=True)
        if not model.stale:
            typer.echo("ok: every enabled source is fresh")


def _fmt(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"


def _job_terms_json(terms: JobTerms | None) -> dict[str, object] | None:
    """A tool's parsed ``job_terms`` as plain JSON (None: job posts are not matched for it)."""
    if terms is None:
        return None
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(terms).items()}


@catalog_app.command("list", cls=_Command)
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
                            "stackoverflow_tags": list(t.stackoverflow_tags),
                            "job_terms": _job_terms_json(t.job_terms),
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


@catalog_app.command("validate", cls=_Command)
def catalog_validate(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Catalog YAML to check (merged over the bundled one). Default: the bundled catalog plus $TRACKER_CATALOG."
        ),
    ] = None,
) -> None:
    """Validate a catalog file; errors name the file, line and field (exit 2)."""
    from tracker.catalog import MAX_ERRORS, load_catalog
    from tracker.errors import CatalogErrors

    try:
        settings = _settings(None)
        catalog = load_catalog(
            [file] if file else [settings.catalog_path] if settings.catalog_path else []
        )
    except CatalogErrors as exc:  # every error, in file order, up to a limit
        for err in exc.errors[:MAX_ERRORS]:
            typer.echo(f"tracker: error: {err}", err=True)
        if len(exc.errors) > MAX_ERRORS:
            typer.echo(
                f"tracker: error: ... and {len(exc.errors) - MAX_ERRORS} more errors in {exc.file}",
                err=True,
            )
        raise typer.Exit(2) from None
    except TrackerError as exc:
        _fail(exc)
    typer.echo(
        f"ok: {len(catalog.tools)} tools in {len(catalog.skills)} skills ({', '.join(catalog.files)})"
    )


def _print_jobs(settings: Settings, cfg: ScheduleConfig, *, as_json: bool) -> None:
    """`schedule --list`: the planned jobs, their next run and why (catch-up or on schedule)."""
    from tracker.clock import utc_now
    from tracker.schedule import last_successes, planned_jobs
    from tracker.schedule_config import cron_trigger
    from tracker.warehouse.db import target_exists

    last: dict[str, datetime | None] = {}
    if target_exists(settings.db_target):
        last = dict(last_successes(settings, lock_wait=cfg.lock_wait_seconds))
    now = utc_now()
    jobs: list[dict[str, Any]] = [
        {
            "id": j.job_id,
            "cron": j.cron,
            "next_run_at": now if j.run_now else cron_trigger(j.cron).get_next_fire_time(None, now),
            "misfire_grace_hours": j.misfire_grace.total_seconds() / 3600,
            "plan": j.reason,
        }
        for j in planned_jobs(cfg, last, now)
    ]
    if as_json:
        typer.echo(json.dumps({"config": cfg.file, "jobs": jobs}, default=str))
        return
    typer.echo(f"schedule from {cfg.file or 'built-in defaults'} (times in UTC):")
    for job in jobs:
        typer.echo(
            f"  {job['id']:<18} cron {job['cron']!s:<14} next "
            f"{'now' if job['next_run_at'] == now else _fmt(job['next_run_at'])}"
            f"  ({job['plan']})"
        )


@app.command(cls=_Command)
def schedule(
    db: DbOpt = None,
    config: ConfigOpt = None,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Log only warnings and errors (no per-job lines)."),
    ] = False,
    list_jobs: Annotated[
        bool, typer.Option("--list", help="Print the planned jobs and their next run, then exit.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="With --list: print the jobs as one JSON document.")
    ] = False,
) -> None:
    """Run the collectors on their schedules (tracker.toml) until SIGINT/SIGTERM (exit 0)."""
    import os

    from tracker.schedule import ScheduleService, last_successes
    from tracker.schedule_config import load_schedule_config

    try:
        settings = _settings(db)
        cfg = load_schedule_config(config)
        if list_jobs:
            _print_jobs(settings, cfg, as_json=as_json)
            return
        if not quiet and logging.getLogger().getEffectiveLevel() == logging.WARNING:
            logging.getLogger("tracker.schedule").setLevel(logging.INFO)
        service = ScheduleService(settings, cfg)
        service.build(last_successes(settings, lock_wait=cfg.lock_wait_seconds))
        service.run()
    except TrackerError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        typer.echo("tracker: second signal: exiting without finishing the current tool", err=True)
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(130)
    raise typer.Exit(0)
