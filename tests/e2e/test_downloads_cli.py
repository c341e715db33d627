"""The three download/release sources together through the CLI: offline failure, full run."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
import respx
from typer.testing import CliRunner

from tests.collectors._downloads_support import FakeClock, at, fixture_text
from tracker.collectors.base import CollectContext

SOURCES = ["--source", "pypistats", "--source", "clickpy", "--source", "apache"]
TOOLS = ["--tool", "airflow", "--tool", "oozie", "--tool", "dagster"]


def _invoke(monkeypatch: pytest.MonkeyPatch, clock: FakeClock, *args: str) -> Any:
    import tracker.runner
    from tracker.cli import app

    monkeypatch.setattr(
        tracker.runner,
        "CollectContext",
        functools.partial(CollectContext, sleep=clock.sleep, now=clock.now),
    )
    return CliRunner().invoke(app, ["collect", *args])


def test_unreachable_hosts_fail_with_one_line_per_source(
    monkeypatch: pytest.MonkeyPatch, db_path: Path
) -> None:
    clock = FakeClock(at("2025-03-10T08:00"))
    result = _invoke(monkeypatch, clock, "--db", str(db_path), *SOURCES, *TOOLS)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["pypistats", "clickpy", "apache"]
    for line in lines:
        assert ": failed, 0 tools stored" in line
        assert "cannot connect" in line
    assert "Traceback" not in result.output
    # each source stops after its first unreachable host instead of retrying every tool, and a
    # name that does not resolve is not retried at all
    assert clock.sleeps == []
    assert all(" 1 request," in line for line in lines)


def test_all_three_sources_fill_the_warehouse_and_rerun_adds_nothing(
    monkeypatch: pytest.MonkeyPatch, db_path: Path
) -> None:
    pypistats = json.loads(fixture_text("pypistats", "overall_apache-airflow.json"))
    dagster_stats = json.loads(fixture_text("pypistats", "overall_dagster_both_categories.json"))
    with respx.mock(assert_all_called=True) as mock:
        mock.get("https://pypistats.test/api/packages/apache-airflow/overall").respond(
            200, json=pypistats
        )
        mock.get("https://pypistats.test/api/packages/dagster/overall").respond(
            200, json=dagster_stats
        )
        mock.post("https://clickhouse.test/", params={"param_name": "dagster"}).respond(
            200, text=fixture_text("clickpy", "backfill_dagster.jsonl")
        )
        mock.post("https://clickhouse.test/", params={"param_name": "apache-airflow"}).respond(
            200, text='{"date":"2025-03-09","downloads":"640112"}\n'
        )
        for project in ("oozie", "airflow"):
            mock.get(f"https://archive.test/dist/{project}/").respond(
                200,
                text=fixture_text("apache", f"{project}.html"),
                headers={"Content-Type": "text/html"},
            )
        clock = FakeClock(at("2025-03-10T08:00"))
        first = _invoke(monkeypatch, clock, "--db", str(db_path), *SOURCES, *TOOLS)
        assert first.exit_code == 0, first.output
        assert first.stdout.splitlines()[0].startswith(
            "pypistats: ok, 2 tools stored, 0 failed, 13 rows, 2 requests"
        )
        assert first.stdout.splitlines()[1].startswith(
            "clickpy: ok, 2 tools stored, 0 failed, 9 rows, 2 requests"
        )
        assert first.stdout.splitlines()[2].startswith(
            "apache: ok, 2 tools stored, 0 failed, 22 rows, 2 requests"
        )
        second = _invoke(monkeypatch, clock, "--db", str(db_path), *SOURCES, *TOOLS)
        assert second.exit_code == 0, second.output

    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        counts = con.execute(
            "SELECT source, count(*) FROM downloads_daily GROUP BY source ORDER BY source"
        ).fetchall()
        releases = con.execute("SELECT count(*) FROM releases WHERE source = 'apache'").fetchone()
        preferred = con.execute(
            "SELECT downloads, source FROM downloads_preferred"
            " WHERE tool_id = 'airflow' AND day = DATE '2025-03-09'"
        ).fetchall()
    finally:
        con.close()
    assert counts == [("clickpy", 9), ("pypistats", 13)]
    assert releases == (22,)
    assert preferred == [(640112, "clickpy")]
