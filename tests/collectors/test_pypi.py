from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import respx

from tracker.catalog import Tool
from tracker.collectors.base import CollectContext
from tracker.collectors.pypi import PypiCollector, normalize, parse_project
from tracker.config import load_settings
from tracker.errors import ParseError
from tracker.records import ToolBatch, ToolFailure

FIX = Path(__file__).parents[1] / "fixtures" / "pypi"


def _load(name: str) -> object:
    return json.loads((FIX / name).read_text())


def test_normalize_pep503() -> None:
    assert normalize("Awkward_Pkg") == "awkward-pkg"
    assert normalize("zope.interface") == "zope-interface"
    assert normalize("A--B__c") == "a-b-c"


def test_parse_real_payload() -> None:
    project = parse_project(_load("sacred.json"), tool_id="sacred", package="sacred", url="u")
    by_version = {r.version: r for r in project.releases}
    assert set(by_version) == {"0.5", "0.7b4", "0.7.0", "0.8.0", "0.8.7"}
    # earliest file's upload time, in UTC
    assert by_version["0.5"].released_at == datetime(2014, 9, 23, 9, 35, 45, 445848, tzinfo=UTC)
    assert by_version["0.7.0"].released_at == datetime(2017, 5, 7, 23, 9, 6, 16289, tzinfo=UTC)
    assert by_version["0.7b4"].is_prerelease and not by_version["0.8.7"].is_prerelease
    assert all(
        r.source == "pypi" and r.project == "sacred" and not r.is_yanked for r in project.releases
    )
    assert project.versions_without_files == 0


def test_parse_awkward_cases() -> None:
    project = parse_project(_load("awkward.json"), tool_id="x", package="Awkward_Pkg", url="u")
    by_version = {r.version: r for r in project.releases}
    assert "1.0" not in by_version and project.versions_without_files == 1
    assert project.name == "awkward-pkg"
    legacy = by_version["2004d"]
    assert not legacy.version_valid and not legacy.is_prerelease
    assert legacy.released_at == datetime(
        2016, 1, 2, 3, 4, 5, tzinfo=UTC
    )  # naive upload_time is UTC
    assert project.invalid_versions == 1
    assert by_version["0.8.8"].is_yanked
    assert not by_version["0.8.9"].is_yanked  # one live file left
    assert by_version["0.9.dev1"].is_prerelease
    assert by_version["0.1"].released_at == datetime(2015, 2, 28, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], "$"),
        ({"releases": {}}, "info.name"),
        ({"info": {"name": "x"}}, "releases"),
        ({"info": {"name": "x"}, "releases": {"1.0": "nope"}}, "releases"),
    ],
)
def test_parse_rejects_bad_shapes(payload: object, field: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_project(payload, tool_id="x", package="x", url="https://pypi.test/pypi/x/json")
    assert err.value.field == field
    assert "https://pypi.test/pypi/x/json" in str(err.value)


def _ctx(sleeps: list[float]) -> CollectContext:
    class NoState:
        def http_validators(self, url: str) -> tuple[None, None]:
            return None, None

    return CollectContext(settings=load_settings(), state=NoState(), sleep=sleeps.append)  # type: ignore[arg-type]


@respx.mock
def test_collect_mixed_outcomes() -> None:
    respx.get("https://pypi.test/pypi/sacred/json").respond(json=_load("sacred.json"))
    respx.get("https://pypi.test/pypi/missing/json").respond(404)
    respx.get("https://pypi.test/pypi/html/json").respond(
        200, text=(FIX / "error_503.html").read_text(), headers={"content-type": "text/html"}
    )
    tools = [
        Tool(id="sacred", name="Sacred", skill="mlops", pypi=("sacred",)),
        Tool(id="gone", name="Gone", skill="mlops", pypi=("missing",)),
        Tool(id="half", name="Half", skill="mlops", pypi=("sacred", "html")),
    ]
    sleeps: list[float] = []
    ctx = _ctx(sleeps)
    outcomes = {o.tool_id: o for o in PypiCollector().collect(ctx, tools)}
    assert isinstance(outcomes["sacred"], ToolBatch) and len(outcomes["sacred"].releases) == 5
    gone = outcomes["gone"]
    assert isinstance(gone, ToolFailure)
    assert "HTTP 404" in gone.error and "https://pypi.test/pypi/missing/json" in gone.error
    half = outcomes["half"]
    assert isinstance(half, ToolBatch) and len(half.releases) == 5
    assert half.errors and "HTML page instead of JSON" in half.errors[0]
    assert ctx.requests.value == 4
    assert sleeps == []


@respx.mock
def test_collect_retries_5xx_and_429_with_retry_after() -> None:
    route = respx.get("https://pypi.test/pypi/sacred/json")
    route.side_effect = [
        httpx.Response(503, text="<html>busy</html>"),
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(200, json=_load("sacred.json")),
    ]
    sleeps: list[float] = []
    ctx = _ctx(sleeps)
    [outcome] = PypiCollector().collect(
        ctx, [Tool(id="s", name="S", skill="mlops", pypi=("sacred",))]
    )
    assert isinstance(outcome, ToolBatch) and len(outcome.releases) == 5
    assert ctx.requests.value == 3
    assert len(sleeps) == 2 and sleeps[1] == 7.0


@respx.mock
def test_collect_gives_up_after_retries() -> None:
    respx.get("https://pypi.test/pypi/sacred/json").respond(502)
    sleeps: list[float] = []
    ctx = _ctx(sleeps)
    [outcome] = PypiCollector().collect(
        ctx, [Tool(id="s", name="S", skill="mlops", pypi=("sacred",))]
    )
    assert isinstance(outcome, ToolFailure) and "HTTP 502" in outcome.error
    assert ctx.requests.value == 5  # 1 + 4 retries
    assert len(sleeps) == 4


@respx.mock
def test_invalid_json_is_a_failure() -> None:
    respx.get("https://pypi.test/pypi/sacred/json").respond(200, text='{"info": {"name": "sac')
    [outcome] = PypiCollector().collect(
        _ctx([]), [Tool(id="s", name="S", skill="mlops", pypi=("sacred",))]
    )
    assert isinstance(outcome, ToolFailure) and "invalid JSON" in outcome.error
