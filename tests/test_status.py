"""`tracker status` and the report read one definition of "stale": they name the same stale tools
(the `tool_stale_spans` view) and the same stale sources (the schedule's max age), today and as
of a past date."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.warehouse.test_status import write_run
from tracker.cli import app

# github and pypi only: the others would be `never` in status and absent from the report
SCHEDULE = "".join(
    f"[sources.{s}]\nenabled = false\n"
    for s in ("pypistats", "clickpy", "apache", "hn", "stackoverflow")
)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)


@pytest.fixture
def midnight(db_path: Path, tmp_path: Path) -> datetime:
    """A warehouse whose runs lie around today's midnight (UTC, returned naive); the schedule
    in ./tracker.toml (the file both `status` and `report` read here)."""
    from tracker.catalog import load_catalog
    from tracker.warehouse.db import WriterLock, open_db
    from tracker.warehouse.store import Store

    (tmp_path / "tracker.toml").write_text(SCHEDULE, encoding="utf-8")
    n = datetime.combine(datetime.now(UTC).date(), time())
    with WriterLock(db_path):
        con = open_db(db_path)
        try:
            store = Store(con)
            store.refresh_tools(load_catalog())
            write_run(store, "github", n - 12 * DAY, "ok")
            write_run(store, "pypi", n - 11 * DAY, "ok")  # pypi's last success (max age 9 h)
            write_run(store, "github", n - 11 * DAY, "partial", ["dagster"])
            write_run(store, "github", n - 9 * DAY - 3 * HOUR, "partial", ["dagster"])  # again
            write_run(store, "github", n - 8 * DAY, "ok")  # dagster is fresh again
            write_run(store, "github", n - 2 * HOUR, "partial", ["airflow"])
            write_run(store, "pypi", n - 3 * HOUR, "failed", ["mlflow"])
            write_run(store, "github", n - HOUR / 2, "interrupted", ["prefect"], minutes=10)
        finally:
            con.close()
    return n


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def _status_stale(doc: dict[str, Any]) -> tuple[list[str], list[tuple[str, str]]]:
    """(stale sources, (source, tool) stale) of a `status --json` document."""
    stale = [s["source"] for s in doc["sources"] if s["freshness"]["state"] == "stale"]
    assert doc["stale"] == stale  # no source `never` succeeded here
    tools = [(s["source"], t) for s in doc["sources"] for t in s["stale_tools"]]
    return stale, sorted(tools)


def _report_stale(db_path: Path, as_of: date, out: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """(stale sources, (source, tool) stale) of the report's trends.json as of ``as_of``."""
    from tracker.reports.findings import flag_source

    _cli("report", "--db", str(db_path), "--out", str(out), "--as-of", as_of.isoformat())
    doc = json.loads((out / "trends.json").read_text(encoding="utf-8"))
    sources = [
        s["source"] for s in doc["sources"] if any(p.startswith("stale:") for p in s["problems"])
    ]
    tools = [
        (str(flag_source(f)), t["tool_id"])
        for t in doc["tools"]
        for f in t["flags"]
        if f["kind"] == "stale"
    ]
    return sorted(sources), sorted(tools)


def test_status_and_report_name_the_same_stale_tools_and_sources(
    midnight: datetime, db_path: Path, tmp_path: Path
) -> None:
    status = _status_stale(json.loads(_cli("status", "--db", str(db_path), "--json")))
    # airflow failed after github's last success (an interrupted run neither clears it nor
    # makes prefect stale); mlflow failed and pypi has not succeeded since; dagster recovered;
    # pypi's last success is 11 days old (max age 9 h), github's an hour (36 h)
    expected = (["pypi"], [("github", "airflow"), ("pypi", "mlflow")])
    assert status == expected
    assert _report_stale(db_path, midnight.date(), tmp_path / "rep") == expected


def test_they_agree_as_of_a_past_date(midnight: datetime, db_path: Path, tmp_path: Path) -> None:
    from tracker.config import load_settings
    from tracker.schedule_config import load_schedule_config
    from tracker.status import read_status_model

    as_of = (midnight - 10 * DAY).date()
    end_of_day = (midnight - 9 * DAY).replace(tzinfo=UTC)  # the report's "as of" instant
    model = read_status_model(
        load_settings(db=str(db_path)), load_schedule_config(), clock=lambda: end_of_day
    )
    status = _status_stale(json.loads(json.dumps(model.as_json(), default=str)))
    # then: dagster had failed again in github's last run (2 h before), pypi's success was 2 days old
    expected = (["pypi"], [("github", "dagster")])
    assert status == expected
    assert _report_stale(db_path, as_of, tmp_path / "rep") == expected
