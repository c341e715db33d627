"""`tracker schedule`: run the collectors on their cron schedules."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tracker.errors import TrackerError

if TYPE_CHECKING:
    from tracker.config import Settings
    from tracker.schedule_config import ScheduleConfig
from tracker.cli._app import Command, app, fail
from tracker.cli._inputs import fmt, settings_of
from tracker.cli._options import ConfigOpt, DbOpt


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
            f"{'now' if job['next_run_at'] == now else fmt(job['next_run_at'])}"
            f"  ({job['plan']})"
        )


@app.command(cls=Command)
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
        settings = settings_of(db)
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
        fail(exc)
    except KeyboardInterrupt:
        typer.echo("tracker: second signal: exiting without finishing the current tool", err=True)
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(130)
    raise typer.Exit(0)
