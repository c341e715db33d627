"""`tracker catalog list` and `tracker catalog validate`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tracker.errors import TrackerError

if TYPE_CHECKING:
    from tracker.catalog import JobTerms
from tracker.cli._app import Command, catalog_app, fail
from tracker.cli._inputs import settings_of
from tracker.cli._options import JsonOpt


def _job_terms_json(terms: JobTerms | None) -> dict[str, object] | None:
    """A tool's parsed ``job_terms`` as plain JSON (None: job posts are not matched for it)."""
    if terms is None:
        return None
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(terms).items()}


@catalog_app.command("list", cls=Command)
def catalog_list(as_json: JsonOpt = False) -> None:
    """List the catalog's tools grouped by skill, with their sources."""
    from tracker.runner import load_configured_catalog

    try:
        catalog = load_configured_catalog(settings_of(None))
    except TrackerError as exc:
        fail(exc, as_json=as_json)
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


@catalog_app.command("validate", cls=Command)
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
        settings = settings_of(None)
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
        fail(exc)
    typer.echo(
        f"ok: {len(catalog.tools)} tools in {len(catalog.skills)} skills ({', '.join(catalog.files)})"
    )
