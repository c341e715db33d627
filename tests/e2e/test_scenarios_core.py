"""End-to-end fault scenarios: `tracker collect` as a subprocess against the loopback fake.

Each test asserts exact stored rows (SQL on the DuckDB file afterwards) against the fake's data.
No sleeps: blocked responses are held by Events, progress is read from the request log or from
the subprocess' log lines, with generous timeouts.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import pytest

import tests.e2e.conftest as e2e
from fakes import FakeUpstream, Fault, PypiVersion, at
from tracker.catalog import load_catalog

pytestmark = pytest.mark.slow

SpawnFn = Callable[[Sequence[str], Mapping[str, str]], e2e.Spawned]

# four single-package catalog tools, in the order `--tool` gives them (the collector yields in
# that order, so with the third blocked, the first two are stored and the fourth waits)
ORDERED = {"sacred": ("sacred",), "dvc": ("dvc",), "mlflow": ("mlflow",), "kedro": ("kedro",)}
TOOL_ARGS = [arg for tool in ORDERED for arg in ("--tool", tool)]


def _db(env: Mapping[str, str]) -> Path:
    return Path(env["TRACKER_DB"])


def _per_tool(rows: set[tuple[object, ...]], tool: str) -> set[tuple[object, ...]]:
    return {r for r in rows if r[0] == tool}


def _stored_lines(stderr: str) -> set[str]:
    """Return the tool ids the runner logged as stored (logfmt lines at --log-level info)."""
    out = set()
    for line in stderr.splitlines():
        if 'msg="tool stored"' in line:
            out.add(line.split("tool_id=", 1)[1].split()[0])
    return out


# ---- transient faults ------------------------------------------------------------------------


def test_transient_faults_are_retried_and_data_is_exact(
    fake: FakeUpstream, e2e_env: dict[str, str]
) -> None:
    tools = e2e.catalog_pypi_tools()
    e2e.serve_catalog(fake, tools)
    faults = {
        "sacred": [Fault.error(500, "Internal Server Error")],
        "dvc": [Fault.html_error(502), Fault.html_error(503)],  # two in a row
        "mlflow": [Fault.error(429, "Too Many Requests", headers={"Retry-After": "1"})],
        "kedro": [Fault("reset")],
        "dagster": [Fault("truncate")],
        "prefect": [Fault("reset"), Fault("truncate")],
    }
    for package, queue in faults.items():
        for fault in queue:
            fake.faults.add(rf"^/pypi/{package}/json$", fault, source="pypi")

    done = e2e.run_tracker(
        ["--log-level", "info", "collect", "--source", "pypi", *e2e.tool_args(tools)], e2e_env
    )

    assert done.returncode == 0, done.stderr
    assert f"pypi: ok, {len(tools)} tools stored, 0 failed" in done.stdout
    assert fake.faults.pending() == 0
    for package, queue in faults.items():
        assert fake.log.count(source="pypi", path=rf"^/pypi/{package}/json$") == len(queue) + 1
    db = _db(e2e_env)
    assert e2e.stored_releases(db) == e2e.expected_releases(fake, tools)
    runs = e2e.query(db, "SELECT status, tools_ok, tools_failed, requests FROM runs")
    packages = sum(len(p) for p in tools.values())
    retries = sum(len(q) for q in faults.values())
    assert runs == [("ok", len(tools), 0, packages + retries)]
    assert fake.log.count(source="pypi") == packages + retries
    assert e2e.query(db, "SELECT count(*) FROM run_errors") == [(0,)]


def test_complete_200_with_cut_json_is_retried(fake: FakeUpstream, e2e_env: dict[str, str]) -> None:
    tools = {"sacred": ("sacred",)}
    e2e.serve_catalog(fake, tools)
    fake.faults.add(r"^/pypi/sacred/json$", Fault("cut_json"), source="pypi")
    done = e2e.run_tracker(["collect", "--source", "pypi", "--tool", "sacred"], e2e_env)
    assert done.returncode == 0, done.stderr
    assert e2e.stored_releases(_db(e2e_env)) == e2e.expected_releases(fake, tools)


def test_without_the_releases_key_versions_come_from_the_simple_api(
    fake: FakeUpstream, e2e_env: dict[str, str]
) -> None:
    tools = e2e.catalog_pypi_tools()
    e2e.serve_catalog(fake, tools)
    fake.pypi.releases_key = False  # PyPI documents `releases` as deprecated
    fake.pypi.add_project(
        "Sacred",  # a display name that is not the PEP 503 one
        [
            PypiVersion("0.1", None),  # files without upload-time
            PypiVersion("1.0", at("2020-01-02T03:04:05Z"), yanked=True),  # with a reason
            PypiVersion("2.0", None, files=0),  # listed, no files: skipped
            PypiVersion("2004d", at("2021-01-01T00:00:00Z")),  # not PEP 440
        ],
    )

    done = e2e.run_tracker(["collect", "--source", "pypi", *e2e.tool_args(tools)], e2e_env)

    assert done.returncode == 0, done.stderr
    assert e2e.stored_releases(_db(e2e_env)) == e2e.expected_releases(fake, tools)
    packages = sum(len(p) for p in tools.values())
    assert fake.log.count(source="pypi", path=r"^/simple/") == packages
    assert fake.log.count(source="pypi") == 2 * packages


# ---- permanent failures ----------------------------------------------------------------------


def test_one_project_permanently_down(fake: FakeUpstream, e2e_env: dict[str, str]) -> None:
    tools = e2e.catalog_pypi_tools()
    e2e.serve_catalog(fake, tools)
    # Retry-After: 0 keeps the four retries instant; the answer never changes
    fake.faults.add(
        r"^/pypi/dagster/json$",
        Fault.html_error(503, **{"Retry-After": "0"}),
        source="pypi",
        times=None,
    )

    done = e2e.run_tracker(["collect", "--source", "pypi", *e2e.tool_args(tools)], e2e_env)

    assert done.returncode == 1
    assert f"pypi: partial, {len(tools) - 1} tools stored, 1 failed" in done.stdout
    assert fake.log.count(source="pypi", path="^/pypi/dagster/json$") == 5  # 1 + 4 retries
    db = _db(e2e_env)
    others = {k: v for k, v in tools.items() if k != "dagster"}
    assert e2e.stored_releases(db) == e2e.expected_releases(fake, others)
    errors = e2e.query(db, "SELECT source, tool_id, error FROM run_errors")
    assert len(errors) == 1
    source, tool_id, error = errors[0]
    assert (source, tool_id) == ("pypi", "dagster")
    assert f"{fake.url('pypi')}/pypi/dagster/json" in error
    assert "HTTP 503" in error and "HTML page instead of JSON" in error
    assert e2e.query(db, "SELECT status, tools_ok, tools_failed FROM runs") == [
        ("partial", len(tools) - 1, 1)
    ]


def _first_run(fake: FakeUpstream, env: dict[str, str]) -> Path:
    """Serve the ORDERED tools and collect them once (exit 0); return the DB."""
    e2e.serve_catalog(fake, ORDERED)
    first = e2e.run_tracker(["collect", "--source", "pypi", *TOOL_ARGS], env)
    assert first.returncode == 0, first.stderr
    return _db(env)


def test_whole_source_unreachable_keeps_stored_data(
    fake: FakeUpstream, e2e_env: dict[str, str]
) -> None:
    db = _first_run(fake, e2e_env)
    before = e2e.stored_releases(db)
    fake.take_offline("pypi")  # connection refused from now on

    done = e2e.run_tracker(["collect", "--source", "pypi", *TOOL_ARGS], e2e_env)

    assert done.returncode == 1
    assert "pypi: failed, 0 tools stored, 4 failed" in done.stdout
    assert e2e.stored_releases(db) == before == e2e.expected_releases(fake, ORDERED)
    errors = e2e.query(db, "SELECT tool_id, error FROM run_errors ORDER BY tool_id")
    assert [e[0] for e in errors] == sorted(ORDERED)
    # one wording, and every tool names its own URL (not the first one that failed)
    for tool_id, error in errors:
        assert error.startswith("not collected: pypi unreachable (cannot connect: "), error
        assert error.endswith(f": {fake.url('pypi')}/pypi/{tool_id}/json"), error
    statuses = e2e.query(db, "SELECT status FROM runs ORDER BY run_id")
    assert statuses == [("ok",), ("failed",)]


# ---- killed and stopped runs -----------------------------------------------------------------


def _start_blocked_run(
    fake: FakeUpstream, env: dict[str, str], spawn: SpawnFn
) -> tuple[e2e.Spawned, Fault]:
    e2e.serve_catalog(fake, ORDERED)
    gate = fake.faults.add(r"^/pypi/mlflow/json$", Fault("block"), source="pypi")
    proc = spawn(["--log-level", "info", "collect", "--source", "pypi", *TOOL_ARGS], env)
    assert gate.arrived.wait(60), proc.stderr
    proc.wait_for_stderr(lambda err: _stored_lines(err) == {"sacred", "dvc"})
    # kedro's fetch ran on another worker; its outcome waits behind mlflow's
    fake.log.wait_for(lambda log: any(r.path == "/pypi/kedro/json" and r.status for r in log))
    return proc, gate


def test_sigkill_mid_run_leaves_no_partial_tool_and_next_run_completes(
    fake: FakeUpstream, e2e_env: dict[str, str], spawn: SpawnFn
) -> None:
    proc, gate = _start_blocked_run(fake, e2e_env, spawn)

    proc.proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    gate.release.set()

    db = _db(e2e_env)
    stored = e2e.stored_releases(db)  # the file opens
    expected = e2e.expected_releases(fake, ORDERED)
    for tool in ORDERED:  # all or nothing per tool
        assert _per_tool(stored, tool) in (set(), _per_tool(expected, tool)), tool
    assert {r[0] for r in stored} == {"sacred", "dvc"}
    assert e2e.query(db, "SELECT source, status, finished_at FROM runs") == [
        ("pypi", "running", None)
    ]

    again = e2e.run_tracker(["collect", "--source", "pypi", *TOOL_ARGS], e2e_env)

    assert again.returncode == 0, again.stderr
    assert e2e.stored_releases(db) == expected
    runs = e2e.query(db, "SELECT status, error IS NOT NULL FROM runs ORDER BY run_id")
    assert runs == [("interrupted", True), ("ok", False)]


def test_sigterm_mid_run_finishes_current_tool_and_stops(
    fake: FakeUpstream, e2e_env: dict[str, str], spawn: SpawnFn
) -> None:
    proc, gate = _start_blocked_run(fake, e2e_env, spawn)

    proc.proc.send_signal(signal.SIGTERM)
    proc.wait_for_stderr(lambda err: "stop requested by signal" in err)
    gate.release.set()
    code = proc.wait()

    assert code == 1, proc.stderr
    assert "stopped by signal" in proc.stdout
    db = _db(e2e_env)
    finished = {k: v for k, v in ORDERED.items() if k != "kedro"}
    assert e2e.stored_releases(db) == e2e.expected_releases(fake, finished)
    assert e2e.query(db, "SELECT status, tools_ok, tools_failed FROM runs") == [
        ("interrupted", 3, 1)
    ]
    assert e2e.query(db, "SELECT tool_id, error FROM run_errors") == [
        ("kedro", "not collected: stop requested")
    ]


# ---- concurrency -----------------------------------------------------------------------------


def _wait_until_open(proc: e2e.Spawned, path: Path, timeout: float = 60.0) -> None:
    """Poll /proc until ``proc`` has ``path`` open (Linux), failing after ``timeout`` s."""
    fd_dir = Path(f"/proc/{proc.proc.pid}/fd")
    deadline = time.monotonic() + timeout
    while True:
        try:
            targets = {os.readlink(fd) for fd in fd_dir.iterdir()}
        except OSError:  # an fd closed while we listed them
            targets = set()
        if str(path) in targets:
            return
        assert proc.proc.poll() is None, proc.stderr
        assert time.monotonic() < deadline, f"{path} never opened; stderr: {proc.stderr}"
        time.sleep(0.02)


def test_second_collect_is_refused_or_waits(
    fake: FakeUpstream, e2e_env: dict[str, str], spawn: SpawnFn
) -> None:
    e2e.serve_catalog(fake, ORDERED)
    gate = fake.faults.add(r"^/pypi/sacred/json$", Fault("block"), source="pypi")
    first = spawn(["collect", "--source", "pypi", *TOOL_ARGS], e2e_env)
    assert gate.arrived.wait(60), first.stderr  # the first holds the writer lock

    refused = e2e.run_tracker(["collect", "--source", "pypi", *TOOL_ARGS], e2e_env)
    assert refused.returncode == 2
    assert "is being written by another tracker process" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    waiting = spawn(["collect", "--source", "pypi", "--wait", "60", *TOOL_ARGS], e2e_env)
    # it is waiting once it has the lock file open while the first still holds the lock
    _wait_until_open(waiting, Path(f"{_db(e2e_env)}.lock"))
    assert waiting.proc.poll() is None and first.proc.poll() is None
    gate.release.set()

    assert first.wait() == 0, first.stderr
    assert waiting.wait() == 0, waiting.stderr
    db = _db(e2e_env)
    assert e2e.stored_releases(db) == e2e.expected_releases(fake, ORDERED)
    runs = e2e.query(db, "SELECT status, started_at, finished_at FROM runs ORDER BY run_id")
    assert [r[0] for r in runs] == ["ok", "ok"]
    assert runs[1][1] >= runs[0][2]  # the second started only after the first finished


# ---- unusable database files -----------------------------------------------------------------


def _real_db(fake: FakeUpstream, env: dict[str, str]) -> bytes:
    e2e.serve_catalog(fake, {"sacred": ("sacred",)})
    done = e2e.run_tracker(["collect", "--source", "pypi", "--tool", "sacred"], env)
    assert done.returncode == 0, done.stderr
    return _db(env).read_bytes()


@pytest.mark.parametrize(
    "kind",
    [
        "random",
        "text",
        "sqlite",
        "truncated-duckdb",
    ],
)
def test_corrupt_or_foreign_db_file_is_refused_untouched(
    fake: FakeUpstream, e2e_env: dict[str, str], tmp_path: Path, kind: str
) -> None:
    target = tmp_path / "target.duckdb"
    if kind == "random":
        target.write_bytes(os.urandom(8192))
    elif kind == "text":
        target.write_text("this is my shopping list\n")
    elif kind == "sqlite":
        with sqlite3.connect(target) as con:
            con.execute("CREATE TABLE t (x)")
    else:
        real = _real_db(fake, e2e_env)
        target.write_bytes(real[: len(real) // 3])
    digest = e2e.sha256(target)

    for args in (["collect", "--source", "pypi"], ["status"], ["report", "--out", "rep"]):
        done = e2e.run_tracker([*args, "--db", str(target)], e2e_env)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("tracker: error: "), done.stderr
        assert str(target) in lines[0]
        assert e2e.sha256(target) == digest
        assert not Path(f"{target}.wal").exists()


def test_db_under_a_regular_file_gives_one_line(
    fake: FakeUpstream, e2e_env: dict[str, str], tmp_path: Path
) -> None:
    # CI runs as root, where directory permissions do not apply: a parent that is a regular
    # file is the unwritable location we can build.
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory\n")
    done = e2e.run_tracker(
        ["collect", "--source", "pypi", "--db", str(blocker / "db.duckdb")], e2e_env
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tracker: error: "), done.stderr
    assert str(blocker) in lines[0]
    assert blocker.read_text() == "not a directory\n"


# ---- bad catalogs and hostile names ----------------------------------------------------------

_SKILL = "orchestration"


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        (
            f"tools:\n  - id: t1\n    name: T\n    skill: {_SKILL}\n    pypi: [sacred]\n"
            f"  - id: t1\n    name: T again\n    skill: {_SKILL}\n    pypi: [dvc]\n",
            6,
            "id",
            "duplicate tool id 't1' (first defined at line 2)",
        ),
        (
            f"tools:\n  - id: t2\n    name: T\n    skill: {_SKILL}\n    pypy: [sacred]\n",
            5,
            "pypy",
            "unknown key",
        ),
        (
            f"tools:\n  - id: t3\n    name: T\n    skill: {_SKILL}\n    pypi: [sacred\n",
            None,
            None,
            "YAML syntax error",
        ),
        (
            f"tools:\n  - id: t4\n    name: T\n    skill: {_SKILL}\n"
            '    pypi: ["x\'; DROP TABLE releases; --"]\n',
            5,
            "pypi",
            "is not a PyPI project name",
        ),
        (
            f'tools:\n  - id: "t5\'; DELETE FROM tools; --"\n    name: T\n    skill: {_SKILL}\n'
            "    pypi: [sacred]\n",
            2,
            "id",
            "is not lowercase letters",
        ),
    ],
    ids=["duplicate-id", "unknown-key", "yaml-syntax", "sql-in-package", "sql-in-id"],
)
def test_bad_catalog_names_line_and_field(
    e2e_env: dict[str, str],
    tmp_path: Path,
    text: str,
    line: int | None,
    field: str | None,
    words: str,
) -> None:
    catalog = tmp_path / "extra.yaml"
    catalog.write_text(text)
    env = {**e2e_env, "TRACKER_CATALOG": str(catalog)}

    done = e2e.run_tracker(["collect", "--source", "pypi"], env)

    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    message = lines[0]
    if line is not None:
        assert f"{catalog}:{line}: field '{field}':" in message
    else:  # YAML syntax: the line is where the parser gave up
        assert message.startswith(f"tracker: error: {catalog}:")
    assert words in message
    assert not _db(env).exists()  # nothing was created
    check = e2e.run_tracker(["catalog", "validate", str(catalog)], env)
    assert check.returncode == 2 and words in check.stderr


def test_sql_in_tool_flag_is_a_usage_error_and_tables_stay(
    fake: FakeUpstream, e2e_env: dict[str, str]
) -> None:
    db = _first_run(fake, e2e_env)
    digest = e2e.sha256(db)
    tables = e2e.query(db, "SELECT table_name FROM information_schema.tables ORDER BY 1")

    for hostile in ("x'; DROP TABLE tools; --", 'x"); DELETE FROM releases; --', "' OR 1=1 --"):
        done = e2e.run_tracker(["collect", "--source", "pypi", "--tool", hostile], e2e_env)
        assert done.returncode == 2
        assert done.stderr.strip() == (
            f"tracker: error: --tool {hostile!r}: no such tool in the catalog "
            "(see `tracker catalog list`)"
        )
    assert e2e.sha256(db) == digest
    assert e2e.query(db, "SELECT table_name FROM information_schema.tables ORDER BY 1") == tables
    assert e2e.stored_releases(db) == e2e.expected_releases(fake, ORDERED)
    assert e2e.query(db, "SELECT count(*) FROM tools") == [(len(load_catalog().tools),)]


# ---- hostile upstream text -------------------------------------------------------------------

HOSTILE_VERSIONS = [
    "1.0'; DROP TABLE releases; --",
    "<script>alert('v')</script>",
    "\uff11.\uff10",  # fullwidth digits
    "2.0\u202egnp.exe",  # right-to-left override
    "3.0-\U0001f680",  # emoji
    "e\u0301\u0301\u0301",  # stacked combining accents
    "4.0\u0000nul",
    "x" + "9" * 1_000_000,  # a 1 MB string
]


def test_hostile_version_strings_are_stored_intact(
    fake: FakeUpstream, e2e_env: dict[str, str], tmp_path: Path
) -> None:
    t0 = at("2024-03-01T12:00:00.250000Z")
    versions = [PypiVersion("1.0.0", t0)] + [
        PypiVersion(v, at(f"2024-04-{i + 1:02d}T00:00:00Z"), files=1)
        for i, v in enumerate(HOSTILE_VERSIONS)
    ]
    fake.pypi.add_project("sacred", versions)

    done = e2e.run_tracker(["collect", "--source", "pypi", "--tool", "sacred"], e2e_env)

    assert done.returncode == 0, done.stderr
    assert f"{len(HOSTILE_VERSIONS)} version(s) are not PEP 440" in done.stderr
    db = _db(e2e_env)
    rows = {r[2]: r for r in e2e.stored_releases(db)}
    assert set(rows) == {"1.0.0", *HOSTILE_VERSIONS}
    assert rows["1.0.0"][3] == datetime(2024, 3, 1, 12, 0, 0, 250000)
    for v in HOSTILE_VERSIONS:
        assert rows[v][6] is False, repr(v[:40])  # version_valid
    assert e2e.query(db, "SELECT count(*) FROM tools") == [(len(load_catalog().tools),)]

    report = e2e.run_tracker(["report", "--out", str(tmp_path / "rep")], e2e_env)
    assert report.returncode == 0, report.stderr
    hostile = "<script>alert('v')</script>"
    html_text = (tmp_path / "rep" / "index.html").read_text(encoding="utf-8")
    md_text = (tmp_path / "rep" / "summary.md").read_text(encoding="utf-8")
    # the page has its own (plotly) scripts, but no upstream text ever lands as markup
    assert hostile not in html_text and "alert('v')</script>" not in html_text
    assert "<script" not in md_text
    # HTML/GitHub descriptions are covered with the GitHub collector (later part of issue 8)


def test_huge_numeric_version_does_not_sink_the_source(
    fake: FakeUpstream, e2e_env: dict[str, str]
) -> None:
    huge = "1" + "0" * 5000
    fake.pypi.add_project("sacred", [PypiVersion(huge, at("2024-04-01T00:00:00Z"))])
    e2e.serve_catalog(fake, {"dvc": ("dvc",)})

    done = e2e.run_tracker(
        ["collect", "--source", "pypi", "--tool", "sacred", "--tool", "dvc"], e2e_env
    )

    assert done.returncode == 0, done.stderr
    stored = e2e.stored_releases(_db(e2e_env))
    assert _per_tool(stored, "dvc") == e2e.expected_releases(fake, {"dvc": ("dvc",)})
    assert {r[2] for r in _per_tool(stored, "sacred")} == {huge}


# ---- secrets ---------------------------------------------------------------------------------


def test_github_token_never_leaks(
    fake: FakeUpstream, e2e_env: dict[str, str], tmp_path: Path
) -> None:
    sentinel = "ghp_sentinel_" + os.urandom(12).hex()
    tools = e2e.catalog_pypi_tools()
    e2e.serve_catalog(fake, tools)
    fake.faults.add(
        r"^/pypi/sacred/json$",
        Fault.error(503, "nope", headers={"Retry-After": "0"}),
        source="pypi",
        times=None,
    )
    env = {**e2e_env, "GITHUB_TOKEN": sentinel}
    out_dir = tmp_path / "reports"

    runs = [
        # pypistats asks for 2 s between requests (its published limit): keep it out here
        e2e.run_tracker(
            [
                "--log-level",
                "debug",
                "collect",
                "-s",
                "pypi",
                "-s",
                "github",
                *e2e.tool_args(tools),
            ],
            env,
        ),
        e2e.run_tracker(
            [
                *("--log-level", "debug", "--log-format", "json", "collect", "--json"),
                *("-s", "pypi", *e2e.tool_args(tools)),
            ],
            env,
        ),
        e2e.run_tracker(["--log-level", "debug", "report", "--out", str(out_dir)], env),
        e2e.run_tracker(["--log-level", "debug", "status"], env),
        e2e.run_tracker(["--log-level", "debug", "status", "--json"], env),
    ]

    assert [r.returncode for r in runs] == [1, 1, 0, 0, 0], [r.stderr[-500:] for r in runs]
    for r in runs:
        assert sentinel not in r.stdout and sentinel not in r.stderr
    assert "sacred" in runs[0].stderr  # the logs did talk about the failure
    db = _db(env)
    files = [db, *db.parent.glob(db.name + ".*"), *out_dir.iterdir()]
    assert out_dir in {f.parent for f in files}
    for path in files:
        assert sentinel.encode() not in path.read_bytes(), path
    # PyPI never receives the GitHub credential
    assert fake.log.count(source="pypi") > 0
    assert not any(r.had_token for r in fake.log.find(source="pypi"))
    assert {v.version for v in e2e.synthetic_versions("dvc")} <= {
        r[2] for r in e2e.stored_releases(db) if r[0] == "dvc"
    }
