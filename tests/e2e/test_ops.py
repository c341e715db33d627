"""Operations: `tracker status` freshness and --check, --quiet/--json, run_id on log lines."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tracker.cli import app
from tracker.collectors.base import SOURCES
from tracker.logging_setup import JsonFormatter, LogfmtFormatter, RunContextFilter

# tracker.toml with every source but pypi disabled
ONLY_PYPI = "".join(f"[sources.{s}]\nenabled = false\n" for s in SOURCES if s != "pypi")


def _db_with_run(db_path: Path, source: str, status: str, finished_ago: timedelta | None) -> None:
    """Create the DB with one finished run of ``source`` that ended ``finished_ago`` ago."""
    from tracker.warehouse.db import WriterLock, open_db
    from tracker.warehouse.store import Store

    with WriterLock(db_path):
        con = open_db(db_path)
        try:
            if finished_ago is not None:
                store = Store(con)
                run_id = store.start_run(source)
                store.finish_run(
                    run_id, status=status, tools_ok=1, tools_failed=0, requests=1, rows_written=5
                )
                at = (datetime.now(UTC) - finished_ago).replace(tzinfo=None)
                con.execute(
                    "UPDATE runs SET started_at = ?, finished_at = ? WHERE run_id = ?",
                    [at, at, run_id],
                )
        finally:
            con.close()


def _status(tmp_path: Path, db_path: Path, *args: str) -> tuple[int, str, str]:
    (tmp_path / "tracker.toml").write_text(ONLY_PYPI, encoding="utf-8")
    result = CliRunner().invoke(
        app, ["status", "--db", str(db_path), *args], env={"COLUMNS": "250"}
    )
    return result.exit_code, result.stdout, result.stderr


def test_status_check_passes_when_fresh(tmp_path: Path, db_path: Path) -> None:
    _db_with_run(db_path, "pypi", "ok", timedelta(hours=2))
    code, out, err = _status(tmp_path, db_path, "--check")
    assert code == 0, out + err
    assert "fresh (2.0h old, stale after 9.0h)" in out
    assert "ok: every enabled source is fresh" in out
    assert "disabled in the schedule" in out  # github etc. are off in this tracker.toml


def test_status_check_fails_when_stale(tmp_path: Path, db_path: Path) -> None:
    _db_with_run(db_path, "pypi", "ok", timedelta(hours=10))
    code, out, err = _status(tmp_path, db_path, "--check")
    assert code == 1
    assert "STALE (10.0h old, stale after 9.0h)" in out
    assert "stale: pypi:" in err
    # without --check the same state exits 0 (status is informational)
    code, _, _ = _status(tmp_path, db_path)
    assert code == 0


def test_status_check_fails_when_never_succeeded(tmp_path: Path, db_path: Path) -> None:
    _db_with_run(db_path, "pypi", "failed", timedelta(hours=1))
    code, out, err = _status(tmp_path, db_path, "--check", "--quiet")
    assert code == 1
    assert out == ""
    assert err.strip() == "tracker: stale: pypi: STALE (never succeeded)"


def test_status_quiet_prints_nothing_when_fresh(tmp_path: Path, db_path: Path) -> None:
    _db_with_run(db_path, "pypi", "partial", timedelta(hours=1))
    code, out, err = _status(tmp_path, db_path, "--check", "--quiet")
    assert (code, out, err) == (0, "", "")


def test_status_json_carries_freshness(tmp_path: Path, db_path: Path) -> None:
    _db_with_run(db_path, "pypi", "ok", timedelta(hours=12))
    code, out, _ = _status(tmp_path, db_path, "--check", "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["stale"] == ["pypi"] and doc["exit_code"] == 1
    assert doc["config"] == str(tmp_path / "tracker.toml")
    by_source = {s["source"]: s for s in doc["sources"]}
    pypi = by_source["pypi"]
    assert pypi["freshness"]["state"] == "stale"
    assert pypi["freshness"]["age_hours"] == pytest.approx(12, abs=0.1)
    assert pypi["freshness"]["period_hours"] == 6
    assert pypi["freshness"]["cron"] == "40 */6 * * *"
    assert pypi["rows"] == 0 and pypi["last_run"]["status"] == "ok"
    assert by_source["github"]["freshness"]["state"] == "disabled"


def test_status_source_without_collector_is_not_an_alert(
    tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracker.collectors.base as base

    real = base.get_collector
    monkeypatch.setattr(base, "get_collector", lambda name: None if name == "pypi" else real(name))
    _db_with_run(db_path, "pypi", "ok", None)
    code, out, _ = _status(tmp_path, db_path, "--check", "--json")
    assert code == 0
    assert json.loads(out)["sources"][1]["freshness"]["state"] == "unavailable"


def test_status_on_a_missing_db_exits_2(tmp_path: Path) -> None:
    code, _out, err = _status(tmp_path, tmp_path / "none.duckdb", "--check")
    assert code == 2
    assert "none.duckdb: no such DuckDB file; run `tracker collect --db" in err
    assert not (tmp_path / "none.duckdb").exists()


def test_schedule_list_shows_jobs_and_catch_up(tmp_path: Path, db_path: Path) -> None:
    _db_with_run(db_path, "pypi", "ok", timedelta(hours=1))
    (tmp_path / "tracker.toml").write_text(
        ONLY_PYPI + "[report]\ncron = '0 7 * * *'\n", encoding="utf-8"
    )
    result = CliRunner().invoke(app, ["schedule", "--db", str(db_path), "--list", "--json"])
    assert result.exit_code == 0, result.output
    jobs = {j["id"]: j for j in json.loads(result.stdout)["jobs"]}
    assert set(jobs) == {"collect:pypi", "report"}
    assert jobs["collect:pypi"]["plan"] == "on schedule"  # succeeded 1h ago: no catch-up
    text = CliRunner().invoke(app, ["schedule", "--db", str(db_path), "--list"])
    assert "collect:pypi" in text.stdout and "cron 40 */6 * * *" in text.stdout


# ---- logging ---------------------------------------------------------------------------------


def test_every_line_during_a_run_carries_its_run_id() -> None:
    from tracker.logging_setup import bind_run, unbind_run

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RunContextFilter())
    logger = logging.getLogger("tracker.collectors.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        logger.info("before")
        bind_run(7, "pypi")
        logger.info("inside")
        logger.info("explicit", extra={"run_id": 8})  # a record's own run_id wins
        unbind_run()
        logger.info("after")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line.get("run_id") for line in lines] == [None, 7, 8, None]
    assert lines[1]["source"] == "pypi"


def test_logfmt_lines_carry_run_id() -> None:
    from tracker.logging_setup import bind_run, unbind_run

    record = logging.makeLogRecord({"name": "tracker.x", "msg": "tool stored", "levelname": "INFO"})
    bind_run(12, "github")
    try:
        RunContextFilter().filter(record)
    finally:
        unbind_run()
    line = LogfmtFormatter().format(record)
    assert "run_id=12" in line and "source=github" in line and 'msg="tool stored"' in line


def test_runner_binds_run_id_for_collector_logs(db_path: Path) -> None:
    """Log lines from a collector's worker threads carry the run_id of the source's run."""
    import threading
    from collections.abc import Iterator as It
    from collections.abc import Sequence

    from tracker.catalog import Tool
    from tracker.collectors.base import CollectContext
    from tracker.config import load_settings
    from tracker.records import ToolBatch, ToolOutcome
    from tracker.runner import run_collect

    seen: list[object] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.name == "tracker.collectors.fake":
                seen.append(getattr(record, "run_id", None))

    class FakeCollector:
        name = "pypi"

        def applicable(self, tool: Tool) -> bool:
            return bool(tool.pypi)

        def collect(self, ctx: CollectContext, tools: Sequence[Tool]) -> It[ToolOutcome]:
            for tool in tools:
                t = threading.Thread(
                    target=lambda: logging.getLogger("tracker.collectors.fake").warning("x")
                )
                t.start()
                t.join()
                yield ToolBatch(tool_id=tool.id)

    import tracker.runner as runner_mod

    handler = Capture()
    handler.addFilter(RunContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    original = runner_mod.get_collector
    runner_mod.get_collector = lambda name: FakeCollector() if name == "pypi" else None  # type: ignore[assignment,return-value]
    try:
        summary = run_collect(
            load_settings().with_db(db_path), sources=["pypi"], tool_ids=["dagster"]
        )
    finally:
        runner_mod.get_collector = original
        root.removeHandler(handler)
    run_id = summary.sources[0].run_id
    assert run_id is not None
    assert seen == [run_id]


def test_collect_quiet_is_silent_on_success(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--quiet prints nothing when every source is skipped or ok; failures go to stderr."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"message": "Not Found"}')

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("TRACKER_PYPI_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("NO_PROXY", "*")
    result = CliRunner().invoke(
        # dagster has no Apache archive entry: the source is skipped, which is not a failure
        app,
        ["collect", "--quiet", "--source", "apache", "--tool", "dagster", "--db", str(db_path)],
    )
    assert result.exit_code == 0
    assert result.stdout == "" and result.stderr == ""
    failing = CliRunner().invoke(
        app, ["collect", "--quiet", "--source", "pypi", "--tool", "dagster", "--db", str(db_path)]
    )
    server.shutdown()
    server.server_close()
    assert failing.exit_code == 1
    assert failing.stdout == ""
    assert "pypi: failed" in failing.stderr
    assert "HTTP 404" in failing.stderr
