"""The `tracker` command line (typer). Thin: parses arguments, calls the modules, prints.

One module per command group; importing them registers their commands on ``app`` in the order
of `tracker --help`.
"""

from __future__ import annotations

# isort: off
from tracker.cli._app import app
from tracker.cli import collect, report, status, catalog, schedule  # noqa: F401 - registers

# isort: on

__all__ = ["app"]
