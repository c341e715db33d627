from __future__ import annotations

from typer.testing import CliRunner

from tracker.cli import app


def test_help_lists_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("collect", "report", "schedule", "status", "catalog"):
        assert command in result.output
