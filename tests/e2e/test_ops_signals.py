"""SIGTERM mid-run: `tracker collect` and `tracker schedule` in a subprocess against a loopback
PyPI that answers only when the test says so (no sleeps: events and blocking reads)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

VERSIONS = ("1.0.0", "1.1.0", "2.0.0rc1", "2.0.0")
WAIT = 60.0  # safety net for a hung subprocess, never a timing assertion


def _payload(name: str) -> bytes:
    """A /pypi/<name>/json document in PyPI's shape (trimmed)."""
    releases = {
        v: [
            {
                "filename": f"{name}-{v}.tar.gz",
                "packagetype": "sdist",
                "upload_time": f"2024-0{i + 1}-02T10:00:00",
                "upload_time_iso_8601": f"2024-0{i + 1}-02T10:00:00.123456Z",
                "yanked": False,
                "yanked_reason": None,
            }
        ]
        for i, v in enumerate(VERSIONS)
    }
    return json.dumps(
        {"info": {"name": name, "version": VERSIONS[-1]}, "releases": releases, "urls": []}
    ).encode()


class _ReleaseAll(threading.Event):
    """Setting it opens every gate, present and future (so no handler has to poll it)."""

    def __init__(self, server: SlowPypi) -> None:
        super().__init__()
        self.server = server

    def set(self) -> None:
        super().set()
        with self.server.lock:
            for gate in self.server.gates.values():
                gate.set()


class SlowPypi:
    """Loopback PyPI: each project's request blocks until the test releases it.

    Handlers wait without a timeout: a timed wait would read the clock, which a shifted clock
    (faketime, to look for date bombs) can turn into a wait of a year.
    """

    def __init__(self) -> None:
        self.gates: dict[str, threading.Event] = {}
        self.lock = threading.Lock()
        self.release_all = _ReleaseAll(self)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.strip("/").split("/")[1]
                outer.gate(name).wait()
                body = _payload(name)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def gate(self, name: str) -> threading.Event:
        with self.lock:
            gate = self.gates.setdefault(name, threading.Event())
            if self.release_all.is_set():
                gate.set()
            return gate

    def __enter__(self) -> SlowPypi:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release_all.set()
        self.server.shutdown()
        self.server.server_close()


class Proc:
    """A tracker subprocess whose JSON log lines (stderr) are read by a thread."""

    def __init__(self, args: list[str], cwd: Path, pypi_url: str) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
        }
        env.update(TRACKER_PYPI_URL=pypi_url, NO_PROXY="*", PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tracker", "--log-format", "json", "--log-level", "info", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.all: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.raw.append(line)
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                continue
            self.all.append(doc)
            self.lines.put(doc)

    def wait_for(self, msg: str, **fields: object) -> dict[str, Any]:
        while True:
            try:
                doc = self.lines.get(timeout=WAIT)
            except queue.Empty:
                self.proc.kill()
                raise AssertionError(f"no log line {msg!r}; stderr: {''.join(self.raw)}") from None
            if doc.get("msg") == msg and all(doc.get(k) == v for k, v in fields.items()):
                return doc

    def finish(self) -> tuple[int, str]:
        """Wait for the exit; return (exit code, stdout). stderr stays with the reader thread."""
        try:
            code = self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self.reader.join(WAIT)  # every stderr line has been read
        assert self.proc.stdout is not None
        return code, self.proc.stdout.read()


@pytest.fixture
def pypi() -> Iterator[SlowPypi]:
    with SlowPypi() as server:
        yield server


def _check_db(db_path: Path) -> tuple[dict[str, int], list[tuple[Any, ...]]]:
    """Open the DB as a user would; return release counts per tool and the runs rows."""
    import duckdb

    from tracker.catalog import load_catalog

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        counts = dict(
            con.execute(
                "SELECT tool_id, count(*) FROM releases WHERE source = 'pypi' GROUP BY 1"
            ).fetchall()
        )
        runs = con.execute("SELECT source, status, tools_ok, tools_failed FROM runs").fetchall()
    finally:
        con.close()
    catalog = load_catalog()
    for tool_id, n in counts.items():
        tool = catalog.get(tool_id)
        assert tool is not None
        # a tool is all or nothing: every version of every package, or no row at all
        assert n == len(VERSIONS) * len(tool.pypi), tool_id
    return counts, runs


def _collect_then_signal(
    tmp_path: Path, pypi: SlowPypi, signum: signal.Signals
) -> tuple[Path, Proc, dict[str, Any]]:
    """Collect dagster, prefect and luigi from the gated PyPI; once dagster is stored, send
    ``signum`` and wait until the run says it finishes the current tool. Returns the db, the
    process and dagster's "tool stored" line."""
    db = tmp_path / "t.duckdb"
    tools = ["dagster", "prefect", "luigi"]
    args = ["collect", "--source", "pypi", *(a for t in tools for a in ("--tool", t))]
    proc = Proc([*args, "--db", str(db)], tmp_path, pypi.url)
    pypi.gate("dagster").set()
    stored = proc.wait_for("tool stored", tool_id="dagster")
    proc.proc.send_signal(signum)
    proc.wait_for("stop requested by signal; finishing the current tool")
    return db, proc, stored


def test_sigterm_mid_collect_keeps_finished_tools_only(tmp_path: Path, pypi: SlowPypi) -> None:
    db, proc, stored = _collect_then_signal(tmp_path, pypi, signal.SIGTERM)
    pypi.release_all.set()  # the requests in flight may now answer
    code, out = proc.finish()
    assert code == 1, out  # interrupted: exit 1 (some tools not collected)
    assert "stopped by signal" in out
    counts, runs = _check_db(db)
    assert counts["dagster"] == len(VERSIONS)
    assert "luigi" not in counts  # never reached: nothing half-written
    assert runs == [("pypi", "interrupted", len(counts), 3 - len(counts))]
    # every line logged during the run carries its run_id
    run_lines = [d for d in proc.all if d["logger"].startswith(("tracker.runner", "tracker.coll"))]
    assert run_lines and all(d.get("run_id") == stored["run_id"] for d in run_lines)


def test_sigterm_stops_the_scheduler_after_the_current_tool(tmp_path: Path, pypi: SlowPypi) -> None:
    db = tmp_path / "t.duckdb"
    (tmp_path / "tracker.toml").write_text(
        "[schedule]\njitter_seconds = 0\nlock_wait_seconds = 5\n"
        "[sources.github]\nenabled = false\n[sources.pypistats]\nenabled = false\n"
        "[sources.clickpy]\nenabled = false\n[sources.apache]\nenabled = false\n"
        "[sources.hn]\nenabled = false\n[sources.stackoverflow]\nenabled = false\n"
        "[report]\nout = 'site'\n",
        encoding="utf-8",
    )
    proc = Proc(["schedule", "--db", str(db)], tmp_path, pypi.url)
    planned = proc.wait_for("job planned", job_id="collect:pypi")
    assert planned["plan"] == "catch-up: never succeeded"
    from tracker.catalog import load_catalog
    from tracker.collectors.pypi import normalize

    # the collector yields tools in catalog order: let the first tool's projects answer
    first = next(t for t in load_catalog().tools if t.trackable and t.pypi)
    for package in first.pypi:
        pypi.gate(normalize(package)).set()
    stored = proc.wait_for("tool stored", tool_id=first.id)
    proc.proc.send_signal(signal.SIGTERM)
    proc.wait_for("SIGTERM received; finishing the current tool, then exiting")
    pypi.release_all.set()
    finished = proc.wait_for("job finished", job_id="collect:pypi")
    code, _ = proc.finish()
    assert code == 0, "".join(proc.raw)  # a clean stop
    assert finished["outcome"] == "interrupted"
    assert finished["run_id"] == stored["run_id"]
    assert any(d["msg"] == "scheduler stopped" for d in proc.all), "".join(proc.raw)
    counts, runs = _check_db(db)
    assert counts.get(stored["tool_id"]) is not None
    assert [(r[0], r[1]) for r in runs] == [("pypi", "interrupted")]
    assert not (tmp_path / "site").exists()  # no report after an interrupted collect


def test_second_sigint_stops_at_once_with_one_line_and_marks_the_run(
    tmp_path: Path, pypi: SlowPypi
) -> None:
    """Ctrl-C twice: the second press ends the process while requests are still held by the
    fake PyPI (so it cannot have waited for them), prints one line and no traceback, exits 130,
    and the run is already `interrupted` in the DB (not left `running`)."""
    db, proc, _ = _collect_then_signal(tmp_path, pypi, signal.SIGINT)
    proc.proc.send_signal(signal.SIGINT)  # prefect and luigi are still held by the fake
    code, out = proc.finish()
    assert code == 130
    assert not pypi.release_all.is_set()  # nothing was released: the exit did not wait
    text_lines = [line for line in proc.raw if not line.startswith("{")]
    assert text_lines == [
        "tracker: second SIGINT: stopped at once; the run is marked interrupted and the tool "
        "in progress was not stored\n"
    ], "".join(proc.raw)
    assert "Traceback" not in "".join(proc.raw) + out
    counts, runs = _check_db(db)
    assert counts == {"dagster": len(VERSIONS)}
    assert runs == [("pypi", "interrupted", 1, 0)]
