from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import respx
from typer.testing import CliRunner

from tracker.catalog import load_catalog
from tracker.cli import app
from tracker.warehouse.db import WriterLock, open_db

FIX = Path(__file__).parent / "fixtures" / "pypi"
SACRED = json.loads((FIX / "sacred.json").read_text())


def _pypi_server(router: respx.MockRouter, missing: tuple[str, ...] = ()) -> respx.Route:
    def answer(request: httpx.Request, name: str) -> httpx.Response:
        if name in missing:
            return httpx.Response(404, text="Not Found")
        payload = json.loads(json.dumps(SACRED))
        payload["info"]["name"] = name
        return httpx.Response(200, json=payload)

    return router.get(url__regex=r"https://pypi\.test/pypi/(?P<name>[^/]+)/json").mock(
        side_effect=answer
    )


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_collect_pypi_whole_catalog_twice_no_duplicates(db_path: Path) -> None:
    # one request per (tool, package): a package listed by two tools (google-cloud-bigquery:
    # google-cloud and bigquery) is read for each
    packages = [p for t in load_catalog().tools if t.trackable for p in t.pypi]
    with respx.mock(assert_all_called=False) as router:
        route = _pypi_server(router)
        code, out, _ = _run("collect", "--source", "pypi", "--db", str(db_path))
        assert code == 0, out
        assert route.call_count == len(packages)
        assert out.startswith("pypi: ok,")
        code, out, _ = _run("collect", "--source", "pypi", "--db", str(db_path), "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["exit_code"] == 0 and doc["sources"][0]["requests"] == len(packages)
    con = open_db(db_path, read_only=True)
    n_tools = len([t for t in load_catalog().tools if t.trackable and t.pypi])
    assert con.execute("SELECT count(*) FROM releases").fetchone() == (5 * len(packages),)
    assert con.execute(
        "SELECT count(*) FROM (SELECT tool_id, source, project, version FROM releases GROUP BY ALL HAVING count(*) > 1)"
    ).fetchone() == (0,)
    runs = con.execute(
        "SELECT source, status, tools_ok, tools_failed, requests FROM runs ORDER BY run_id"
    ).fetchall()
    assert runs == [("pypi", "ok", n_tools, 0, len(packages))] * 2
    con.close()


def test_collect_failure_is_recorded_and_exit_1(db_path: Path) -> None:
    with respx.mock(assert_all_called=False) as router:
        _pypi_server(router, missing=("sacred",))
        code, out, _ = _run(
            "collect", "-s", "pypi", "-t", "sacred", "-t", "mlflow", "--db", str(db_path)
        )
    assert code == 1
    assert "pypi: partial, 1 tool stored, 1 failed" in out
    assert "HTTP 404 from https://pypi.test/pypi/sacred/json" in out
    con = open_db(db_path, read_only=True)
    assert con.execute("SELECT tool_id, error FROM run_errors").fetchall() == [
        (
            "sacred",
            "pypi: HTTP 404 from https://pypi.test/pypi/sacred/json: unknown PyPI project 'sacred'",
        )
    ]
    assert con.execute("SELECT DISTINCT tool_id FROM releases").fetchall() == [("mlflow",)]
    con.close()


def test_collect_all_sources_offline_says_why(db_path: Path) -> None:
    # every upstream is an unresolvable *.test host: each source fails fast with one line
    code, out, err = _run("collect", "--db", str(db_path), "-t", "sacred", "-t", "oozie")
    assert code == 1
    lines = [line for line in out.splitlines() if line]
    assert any(
        line.startswith("pypi: failed, 0 tools stored, 1 failed") and "cannot connect" in line
        for line in lines
    )
    assert "Traceback" not in out + err


def test_quiet_and_json(db_path: Path) -> None:
    with respx.mock(assert_all_called=False) as router:
        _pypi_server(router)
        code, out, err = _run(
            "collect", "-s", "pypi", "-t", "sacred", "--db", str(db_path), "--quiet"
        )
        assert (code, out, err) == (0, "", "")
        code, out, _err = _run(
            "collect", "-s", "pypi", "-t", "sacred", "--db", str(db_path), "--json"
        )
    assert code == 0 and json.loads(out)["sources"][0]["tools_ok"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["collect", "--source", "nope"], "--source 'nope': unknown source"),
        (["collect", "--tool", "nope"], "--tool 'nope': no such tool"),
        (["collect", "--tool", "fblearner"], "--tool 'fblearner' is not trackable"),
        (["report", "--as-of", "2026-13-01"], "--as-of '2026-13-01': expected a date"),
    ],
)
def test_usage_errors_exit_2(db_path: Path, args: list[str], message: str) -> None:
    code, _out, err = _run(*args, "--db", str(db_path))
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_bad_catalog_exit_2(db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("tools:\n  - id: x\n    name: X\n    skill: mlops\n    colour: red\n")
    monkeypatch.setenv("TRACKER_CATALOG", str(bad))
    code, _, err = _run("collect", "--db", str(db_path))
    assert code == 2 and f"{bad}:5: field 'colour': unknown key" in err
    assert not db_path.exists()  # nothing was written
    code, _, err = _run("catalog", "validate", str(bad))
    assert code == 2 and f"{bad}:5" in err


def test_not_a_duckdb_file(tmp_path: Path) -> None:
    path = tmp_path / "x.duckdb"
    path.write_text("hello")
    for args in (["collect", "-s", "pypi"], ["report"], ["status"]):
        code, _, err = _run(*args, "--db", str(path))
        assert code == 2 and "is not a DuckDB database file" in err, args
    assert path.read_text() == "hello"


def test_lock_held_gives_one_sentence(db_path: Path) -> None:
    with WriterLock(db_path):
        code, _, err = _run("collect", "-s", "pypi", "--db", str(db_path))
    assert code == 2
    assert "is being written by another tracker process" in err and "Traceback" not in err


def test_catalog_list_groups_by_skill() -> None:
    code, out, _ = _run("catalog", "list")
    assert code == 0
    for title in ("Workflow orchestration", "MLOps and ML platforms", "Logs and search"):
        assert title in out
    assert "not trackable" in out and "apache:oozie" in out
    code, out, _ = _run("catalog", "list", "--json")
    tools = {t["id"]: t for t in json.loads(out)["tools"]}
    assert len(tools) >= 300
    # the demand keys are listed too: Stack Overflow tags and the parsed job-post terms
    assert tools["airflow"]["stackoverflow_tags"] == ["apache-airflow"]
    assert "Airflow" in tools["airflow"]["job_terms"]["weak"]
    assert "HVAC" in tools["airflow"]["job_terms"]["veto"]
    assert tools["oozie"]["job_terms"] is None or isinstance(tools["oozie"]["job_terms"], dict)


def test_status_and_report_after_collect(db_path: Path, tmp_path: Path) -> None:
    with respx.mock(assert_all_called=False) as router:
        _pypi_server(router, missing=("mlflow",))
        _run("collect", "-s", "pypi", "-t", "sacred", "-t", "mlflow", "--db", str(db_path))
    code, out, _ = _run("status", "--db", str(db_path), "--json")
    assert code == 0
    pypi = next(s for s in json.loads(out)["sources"] if s["source"] == "pypi")
    assert pypi["last_run"]["status"] == "partial" and pypi["rows"] == 5
    assert pypi["stale_tools"] == ["mlflow"] and pypi["recent_errors"][0]["tool_id"] == "mlflow"
    code, out, _ = _run("status", "--db", str(db_path))
    assert code == 0 and "pypi" in out and "mlflow" in out
    out_dir = tmp_path / "rep"
    code, out, _ = _run(
        "report", "--db", str(db_path), "--out", str(out_dir), "--as-of", "2026-11-25"
    )
    assert code == 0
    assert (out_dir / "summary.md").exists()


def test_help_is_fast_and_light() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from tracker.cli import app; "
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0; "
        "heavy = [m for m in ('duckdb', 'plotly', 'apscheduler', 'selectolax', 'github', 'rich.progress', 'httpx')"
        " if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""


def test_pypi_conditional_requests_make_reruns_cheap(db_path: Path) -> None:
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("if-none-match"))
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304)
        return httpx.Response(200, json=SACRED, headers={"ETag": '"v1"'})

    with respx.mock(assert_all_called=False) as router:
        router.get("https://pypi.test/pypi/sacred/json").mock(side_effect=answer)
        code1, _, _ = _run("collect", "-s", "pypi", "-t", "sacred", "--db", str(db_path))
        code2, out, _ = _run(
            "collect", "-s", "pypi", "-t", "sacred", "--db", str(db_path), "--json"
        )
    assert (code1, code2) == (0, 0)
    assert seen == [None, '"v1"']
    src = json.loads(out)["sources"][0]
    assert (
        src["tools_ok"] == 1 and src["rows_written"] == 0 and src["counters"]["not_modified"] == 1
    )
    con = open_db(db_path, read_only=True)
    assert con.execute("SELECT count(*) FROM releases").fetchone() == (5,)
    assert con.execute("SELECT url, etag FROM http_cache").fetchall() == [
        ("https://pypi.test/pypi/sacred/json", '"v1"')
    ]
    con.close()
