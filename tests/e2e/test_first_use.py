"""What a new user meets first (issue 13): typos in --db, offline sources, quiet and debug output,
catalog errors, flags in --help, status after an interrupted run. CLI level throughout."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from fakes import FakeUpstream, PypiVersion, at
from tracker.catalog import Tool, load_catalog
from tracker.cli import app
from tracker.collectors.base import SOURCES


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# ---- item 2: a DB file that does not exist ----------------------------------------------------
@pytest.mark.parametrize("command", [["report"], ["status"], ["status", "--check"]])
@pytest.mark.parametrize("via_env", [False, True])
def test_report_and_status_refuse_a_missing_db_and_create_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], via_env: bool
) -> None:
    typo = tmp_path / "tracker.duckbd"
    before = _files(tmp_path)
    if via_env:
        monkeypatch.setenv("TRACKER_DB", str(typo))
        code, out, err = _run(*command)
    else:
        code, out, err = _run(*command, "--db", str(typo))
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        f"tracker: error: {typo}: no such DuckDB file; run `tracker collect --db {typo}` first "
        "(or fix --db / TRACKER_DB)"
    ]
    assert _files(tmp_path) == before  # no DB, no lock file, no reports-out


# ---- item 3: every tool's error names its own URL, one wording for every source ---------------
def test_offline_sources_name_each_tools_own_url(db_path: Path) -> None:
    from tracker.warehouse import open_db

    tools = ["oozie", "airflow", "dagster"]
    code, out, err = _run("collect", "--db", str(db_path), *(a for t in tools for a in ("-t", t)))
    assert code == 1 and "Traceback" not in out + err
    con = open_db(db_path, read_only=True)
    try:
        rows = con.execute("SELECT source, tool_id, error FROM run_errors").fetchall()
    finally:
        con.close()
    catalog = load_catalog()
    own = {
        "github": lambda t: f"https://github.test/api/v3/repos/{t.github}",
        "pypi": lambda t: f"https://pypi.test/pypi/{t.pypi[0]}/json",
        "pypistats": lambda t: f"https://pypistats.test/api/packages/{t.pypi[0]}/overall",
        "clickpy": lambda t: f"https://clickhouse.test/?param_name={t.pypi[0]}",
        "apache": lambda t: f"https://archive.test/dist/{t.apache}/",
        # one listing of the month-threads serves every tool: it is each tool's own URL
        "hn": lambda t: "https://hn.test/api/v1/search_by_date",
        "stackoverflow": lambda t: "https://stackexchange.test/2.3/",
    }
    seen = set()
    for source, tool_id, error in rows:
        tool = catalog.get(tool_id)
        assert tool is not None
        wording = re.fullmatch(
            rf"not collected: {source} unreachable \(cannot connect: host name does not resolve"
            r"(; not tried after the first failure)?\): (\S+)",
            error,
        )
        assert wording, error
        assert wording.group(2).startswith(own[source](tool)), error
        seen.add(source)
    assert seen == set(own)
    # the summary: one line per source, one request each (the first unreachable one stops it);
    # PyPI asks for several packages at once, so those already on their way fail by themselves
    lines = out.splitlines()
    assert len(lines) == len(own), out
    assert all(" 1 request," in line for line in lines if not line.startswith("pypi:")), out
    assert re.match(r"pypi: failed, .* [12] requests?,", lines[1]), out


# ---- item 4: a reader holds the file open ------------------------------------------------------
def test_collect_while_a_reader_holds_the_db_says_to_close_it(db_path: Path) -> None:
    from tracker.warehouse import open_db

    open_db(db_path).close()
    code = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
        "print('ready', flush=True); sys.stdin.read()"
    )
    reader = subprocess.Popen(
        [sys.executable, "-c", code, str(db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "ready"
        code_, out, err = _run("collect", "-s", "pypi", "--db", str(db_path))
    finally:
        reader.communicate("", timeout=30)
    assert code_ == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(
        f"tracker: error: {db_path} is open in another process (pid {reader.pid}"
    )
    assert "even read-only: close that program" in lines[0]


# ---- item 6: --quiet is one line per failed source; debug is one line per request --------------
def test_quiet_prints_one_line_per_failed_source(db_path: Path) -> None:
    code, out, err = _run("collect", "--quiet", "--db", str(db_path), "-t", "airflow")
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert [line.split(":")[0] for line in lines] == list(SOURCES), err
    assert all(": failed, " in line for line in lines)


@pytest.fixture
def loopback_pypi(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The fake PyPI on a real socket (so httpx and httpcore log what they do), serving sacred."""
    with FakeUpstream() as fake:
        fake.pypi.add_project("sacred", [PypiVersion("0.8.7", at("2024-11-26T07:16:52Z"))])
        monkeypatch.setenv("TRACKER_PYPI_URL", fake.url("pypi"))
        monkeypatch.setenv("NO_PROXY", "*")
        yield fake.url("pypi")


def test_debug_logs_one_line_per_request_not_the_http_libraries(
    db_path: Path, loopback_pypi: str
) -> None:
    args = ["collect", "-s", "pypi", "-t", "sacred", "--db", str(db_path)]
    code, _out, err = _run("--log-level", "debug", *args)
    assert code == 0, err
    loggers = [m.group(1) for m in re.finditer(r"logger=(\S+)", err)]
    assert loggers and all(name.startswith("tracker") for name in loggers), err
    requests = [line for line in err.splitlines() if "/pypi/sacred/json -> " in line]
    assert len(requests) == 1, err
    # asked for: the libraries' own lines come back
    code, _out, err = _run("--log-level", "debug", "--log-libraries", *args)
    assert code == 0 and "logger=httpcore" in err


# ---- item 7: every catalog error, in file order; the same refusal in every command -------------
BAD_CATALOG = """\
skills:
  streaming: Stream processing
tools:
  - id: Bad_ID
    name: X
    skill: streaming
    github: nope
  - id: redpanda
    name: Redpanda
    skill: nowhere
    colour: red
  - id: ok-tool
    name: OK
    skill: streaming
    pypi: [good, "bad name"]
  - id: redpanda
    name: dup
    skill: streaming
    github: a/b
"""


def test_catalog_validate_lists_every_error_in_file_order(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_CATALOG)
    code, out, err = _run("catalog", "validate", str(bad))
    assert code == 2 and out == ""
    found = [
        (int(m.group(1)), m.group(2))
        for m in re.finditer(
            rf"^tracker: error: {re.escape(str(bad))}:(\d+): field '(\w+)'", err, re.M
        )
    ]
    assert found == [
        (4, "id"),
        (7, "github"),
        (10, "skill"),
        (11, "colour"),
        (15, "pypi"),
        (16, "id"),
    ], err
    assert len(err.splitlines()) == 6


def test_catalog_validate_stops_listing_at_50_and_says_how_many_more(tmp_path: Path) -> None:
    bad = tmp_path / "many.yaml"
    bad.write_text(
        "tools:\n"
        + "".join(
            f"  - id: t{i}\n    name: T\n    skill: mlops\n    github: x\n" for i in range(60)
        )
    )
    code, _out, err = _run("catalog", "validate", str(bad))
    lines = err.splitlines()
    assert code == 2 and len(lines) == 51
    assert lines[0] == f"tracker: error: {bad}:5: field 'github': 'x' is not owner/repo"
    assert lines[-1] == f"tracker: error: ... and 10 more errors in {bad}"


@pytest.mark.parametrize(
    "command",
    [
        ["report"],
        ["status"],
        ["collect", "-s", "pypi"],
        ["catalog", "list"],
        ["catalog", "validate"],
    ],
)
def test_a_broken_tracker_catalog_is_refused_by_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_path: Path, command: list[str]
) -> None:
    from tracker.warehouse import open_db

    open_db(db_path).close()  # an existing DB: the catalog is what is wrong
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_CATALOG)
    monkeypatch.setenv("TRACKER_CATALOG", str(bad))
    monkeypatch.setenv("TRACKER_DB", str(db_path))
    code, _out, err = _run(
        *command, *(["--out", str(tmp_path / "rep")] if command == ["report"] else [])
    )
    assert code == 2
    first = f"tracker: error: {bad}:4: field 'id': 'Bad_ID' is not lowercase letters, digits, '-' or '_'"
    assert err.splitlines()[0].startswith(first), err
    assert not (tmp_path / "rep").exists()


# ---- item 8: after an interrupted run, status agrees with itself -------------------------------
class _StoppingCollector:
    """Stores the first tool, then a stop arrives: the rest answer "stop requested"."""

    name = "pypi"

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.interrupt = False

    def applicable(self, tool: Tool) -> bool:
        return bool(tool.pypi)

    def collect(self, ctx: object, tools: Sequence[Tool]) -> Iterator[object]:
        from datetime import UTC, datetime

        from tracker.records import ReleaseRecord, ToolBatch, ToolFailure

        for i, tool in enumerate(tools):
            if self.stop.is_set():
                yield ToolFailure(tool.id, "not collected (stop requested)")
                continue
            release = ReleaseRecord(
                tool.id, "pypi", tool.pypi[0], "1.0", datetime(2024, 1, 1, tzinfo=UTC), False, False
            )
            yield ToolBatch(tool_id=tool.id, releases=(release,))
            if i == 0 and self.interrupt:
                self.stop.set()


def test_status_after_an_interrupted_run_agrees_with_itself(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracker.runner as runner_mod
    from tracker.config import load_settings
    from tracker.runner import run_collect

    stop = threading.Event()
    collector = _StoppingCollector(stop)
    monkeypatch.setattr(
        runner_mod, "get_collector", lambda name: collector if name == "pypi" else None
    )
    settings = load_settings().with_db(db_path)
    tools = ["sacred", "mlflow"]
    first = run_collect(settings, sources=["pypi"], tool_ids=tools, stop_requested=stop.is_set)
    assert first.sources[0].status == "ok"
    collector.interrupt = True
    # the stop comes while the last tool runs: nothing is left, but a tool was cut short
    second = run_collect(settings, sources=["pypi"], tool_ids=tools, stop_requested=stop.is_set)
    assert second.sources[0].status == "interrupted"  # not "partial": not a success
    code, out, _ = _run("status", "--db", str(db_path), "--json")
    assert code == 0
    pypi = next(s for s in json.loads(out)["sources"] if s["source"] == "pypi")
    assert pypi["last_run"]["status"] == "interrupted"
    assert pypi["last_success_at"] == first_success(db_path)
    assert pypi["freshness"]["state"] == "fresh"
    assert pypi["stale_tools"] == []  # fresh source, fresh tools: they agree


def first_success(db_path: Path) -> str:
    from tracker.warehouse import open_db

    con = open_db(db_path, read_only=True)
    try:
        row = con.execute("SELECT finished_at FROM runs WHERE run_id = 1").fetchone()
    finally:
        con.close()
    assert row is not None
    return str(row[0])


# ---- item 10: flags are flags ------------------------------------------------------------------
def _commands() -> list[list[str]]:
    group = typer.main.get_command(app)
    out: list[list[str]] = [[]]
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        out.append([name])
        for sub in getattr(cmd, "commands", {}):
            out.append([name, sub])
    return out


def test_every_help_shows_flags_as_flags() -> None:
    commands = _commands()
    assert ["catalog", "validate"] in commands and ["collect"] in commands
    for command in commands:
        code, out, _ = _run(*command, "--help")
        assert code == 0, command
        assert "<bool>" not in out, (command, out)


def test_quiet_alone_is_a_flag(db_path: Path) -> None:
    from tracker.warehouse import open_db

    open_db(db_path).close()
    code, out, err = _run("status", "--quiet", "--db", str(db_path))
    assert (code, out) == (0, ""), err
    code, _out, err = _run("status", "--quiet", "true", "--db", str(db_path))
    assert code == 2 and "unexpected extra argument" in err
