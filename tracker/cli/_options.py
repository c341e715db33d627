"""The options several commands share (typer ``Annotated`` aliases)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Schedule file (TOML). Default: ./tracker.toml when present, else built-in defaults.",
    ),
]
