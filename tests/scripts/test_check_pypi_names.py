"""scripts/check_pypi_names.py against a mocked PyPI (the real run is a maintainer's job)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest
import respx

from tracker.catalog import Tool

SCRIPT = Path(__file__).parents[2] / "scripts" / "check_pypi_names.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_pypi_names", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_pypi_names"] = module
    spec.loader.exec_module(module)
    return module


def _project(*urls: str, home: str | None = None) -> dict[str, object]:
    return {
        "info": {
            "name": "x",
            "home_page": home,
            "project_urls": {f"u{i}": u for i, u in enumerate(urls)},
        }
    }


def test_github_repos_are_read_from_any_github_url(script: ModuleType) -> None:
    repos = script.github_repos(
        [
            "https://github.com/Apache/Airflow/issues",
            "https://github.com/apache/airflow.git",
            "git@github.com:dagster-io/dagster.git",
            "https://github.com/sponsors/someone",
            "https://airflow.apache.org",
            "",
        ]
    )
    assert repos == {"apache/airflow", "dagster-io/dagster"}


def test_check_reports_missing_and_mismatched_packages(script: ModuleType) -> None:
    tools = [
        Tool("ok", "OK", "x", github="acme/ok", pypi=("ok-pkg",)),
        Tool("client", "Client", "x", github="acme/server", pypi=("acme-client",)),
        Tool("moved", "Moved", "x", github="old/moved", pypi=("moved",)),
        Tool("renamed", "Renamed", "x", github="new/r", formerly=("old/r",), pypi=("r",)),
        Tool("gone", "Gone", "x", pypi=("no-such-pkg", "ok-pkg")),
        Tool("flaky", "Flaky", "x", github="acme/flaky", pypi=("flaky",)),
    ]
    calls: dict[str, int] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        name = request.url.path.split("/")[2]
        calls[name] = calls.get(name, 0) + 1
        if name == "flaky" and calls[name] == 1:
            return httpx.Response(503, text="<html>busy</html>")
        body = {
            "ok-pkg": _project("https://github.com/acme/ok"),
            "acme-client": _project("https://github.com/acme/acme-client"),  # same owner
            "moved": _project(home="https://github.com/neworg/moved"),
            "r": _project("https://github.com/old/r"),
            "flaky": _project(),
        }.get(name)
        return httpx.Response(404) if body is None else httpx.Response(200, json=body)

    client = httpx.Client(base_url="https://pypi.test", transport=httpx.MockTransport(answer))
    sleeps: list[float] = []
    report = script.check(tools, client, sleep=sleeps.append)

    assert report.checked == 6  # one request per distinct name, plus one retry
    assert calls == {n: 1 for n in calls} | {"flaky": 2}
    assert report.missing == [("gone", "no-such-pkg")]
    assert report.mismatches == [("moved", "moved", "old/moved", frozenset({"neworg/moved"}))]
    assert report.same_owner == 1
    assert report.unreachable == [] and len(sleeps) == 1


@respx.mock
def test_main_prints_a_summary_and_exit_codes(
    script: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "extra.yaml"
    catalog.write_text(
        "tools:\n  - id: mine\n    name: Mine\n    skill: mlops\n    pypi: [mine-pkg]\n"
    )
    respx.get(url__regex=r"https://pypi\.test/pypi/mine-pkg/json").respond(404)
    respx.get(url__regex=r"https://pypi\.test/pypi/.+/json").respond(200, json=_project())
    code = script.main([str(catalog), "--pypi-url", "https://pypi.test"])
    out = capsys.readouterr().out
    assert code == 1
    assert "missing: mine-pkg (tool mine)" in out
    assert "PyPI names checked" in out and "1 missing" in out

    bad = tmp_path / "bad.yaml"
    bad.write_text("tools:\n  - id: Bad Id\n")
    assert script.main([str(bad), "--pypi-url", "https://pypi.test"]) == 2
