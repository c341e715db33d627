from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import respx

from tracker.catalog import Tool
from tracker.collectors._pypi_parse import version_of
from tracker.collectors.base import CollectContext
from tracker.collectors.pypi import PypiCollector, normalize, parse_project, parse_simple
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


@respx.mock
def test_the_pypi_client_decodes_json_api_documents_with_decode_project() -> None:
    from tracker.collectors._http import json_body
    from tracker.collectors._pypi_parse import ProjectDocument

    respx.get("https://pypi.test/pypi/sacred/json").respond(json=_load("sacred.json"))
    respx.get("https://pypi.test/simple/sacred/").respond(
        json=_load("simple_sacred.json"),
        headers={"Content-Type": "application/vnd.pypi.simple.v1+json"},
    )
    with PypiCollector().client(_ctx([])) as client:
        assert isinstance(json_body(client.get("/pypi/sacred/json")), ProjectDocument)
        assert json_body(client.get("/simple/sacred/")) == _load("simple_sacred.json")


# ---- Simple API (PEP 691/700), used when the JSON API has no `releases` key ------------------


def test_simple_api_gives_the_same_releases_as_the_json_api() -> None:
    from_json = parse_project(_load("sacred.json"), tool_id="sacred", package="sacred", url="u")
    from_simple = parse_simple(_load("simple_sacred.json"), tool_id="sacred", url="u")
    assert sorted(from_simple.releases, key=str) == sorted(from_json.releases, key=str)
    assert from_simple.name == "sacred" and from_simple.versions_without_files == 0


def test_simple_api_yanked_reasons_and_a_file_without_upload_time() -> None:
    project = parse_simple(_load("simple_mlflow.json"), tool_id="mlflow", url="u")
    by_version = {r.version: r for r in project.releases}
    assert set(by_version) == {"1.30.0", "2.0.0rc0", "2.0.0", "2.0.1"}
    assert by_version["2.0.0"].is_yanked  # yanked with a reason string
    assert not by_version["2.0.1"].is_yanked and not by_version["1.30.0"].is_yanked
    assert by_version["2.0.0rc0"].is_prerelease
    # the wheel has no upload-time: the sdist's time is the release's
    assert by_version["2.0.1"].released_at == datetime(2022, 11, 15, 4, 56, 42, 865815, tzinfo=UTC)


def test_simple_api_file_names_with_either_spelling_of_the_project() -> None:
    project = parse_simple(_load("simple_dagster-pipes.json"), tool_id="d", url="u")
    by_version = {r.version: r for r in project.releases}
    assert set(by_version) == {"1.8.3", "1.10.0", "1.10.11rc0", "1.12.16"}
    assert by_version["1.8.3"].is_yanked and by_version["1.12.16"].is_yanked  # yanked: true
    assert by_version["1.10.11rc0"].is_prerelease and not by_version["1.10.0"].is_yanked
    assert all(r.project == "dagster-pipes" for r in project.releases)


def test_simple_api_counts_versions_without_files_and_flags_legacy_ones() -> None:
    payload = {
        "meta": {"api-version": "1.1"},
        "name": "old-pkg",
        "versions": ["0.9", "1.0", "2004d"],
        "files": [
            {"filename": "Old_Pkg-1.0.tar.gz", "yanked": False},
            {"filename": "old_pkg-2004d.zip", "upload-time": "2004-01-02T03:04:05Z", "yanked": ""},
            {"filename": "old_pkg-1.0-py2.7.egg", "upload-time": "2015-01-01T00:00:00Z"},
            {"filename": "README.txt", "upload-time": "2015-01-01T00:00:00Z"},
        ],
    }
    project = parse_simple(payload, tool_id="x", url="u")
    by_version = {r.version: r for r in project.releases}
    assert set(by_version) == {"1.0", "2004d"} and project.versions_without_files == 1
    assert by_version["1.0"].released_at == datetime(2015, 1, 1, tzinfo=UTC)  # the egg's time
    assert by_version["2004d"].is_yanked  # an empty reason string still marks it yanked
    assert not by_version["2004d"].version_valid and project.invalid_versions == 1


@pytest.mark.parametrize(
    ("filename", "listed", "expected"),
    [
        ("dagster-pipes-1.8.3.tar.gz", {}, "1.8.3"),
        ("dagster_pipes-1.8.3-py3-none-any.whl", {}, "1.8.3"),
        ("Dagster.Pipes-1.0-final.zip", {"1.0-final": "1.0-final"}, "1.0-final"),
        ("dagster_pipes-1.0.0-py3-none-any.whl", {"1.0.0": "1.0"}, "1.0"),
        ("other-1.0.tar.gz", {}, None),
        ("dagster-pipes-1.0.linux-x86_64.tar.gz", {"1.0": "1.0"}, None),
        ("dagster-pipes.txt", {}, None),
    ],
)
def test_version_of_a_file_name(
    filename: str, listed: dict[str, str], expected: str | None
) -> None:
    assert version_of(filename, "dagster-pipes", listed) == expected


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], "$"),
        ({"files": []}, "name"),
        ({"name": "x", "files": {}}, "files"),
        ({"name": "x", "files": [], "versions": [1]}, "versions"),
        ({"name": "x", "files": [{"size": 1}]}, "files[].filename"),
        (
            {"name": "x", "files": [{"filename": "x-1.tar.gz", "upload-time": 5}]},
            "files[].upload-time",
        ),
    ],
)
def test_parse_simple_rejects_bad_shapes(payload: object, field: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_simple(payload, tool_id="x", url="https://pypi.test/simple/x/")
    assert err.value.field == field


def _without_releases(name: str) -> dict[str, object]:
    payload = _load(name)
    assert isinstance(payload, dict)
    return {k: v for k, v in payload.items() if k not in ("releases", "urls")}


@pytest.mark.parametrize("releases", ["absent", "null"])
@respx.mock
def test_collect_reads_the_simple_api_when_releases_is_absent(releases: str) -> None:
    document = _without_releases("sacred.json")
    if releases == "null":
        document["releases"] = None
    respx.get("https://pypi.test/pypi/sacred/json").respond(json=document, headers={"ETag": '"e1"'})
    simple = respx.get("https://pypi.test/simple/sacred/").respond(
        json=_load("simple_sacred.json"),
        headers={"Content-Type": "application/vnd.pypi.simple.v1+json"},
    )
    ctx = _ctx([])
    [outcome] = PypiCollector().collect(
        ctx, [Tool(id="s", name="S", skill="mlops", pypi=("sacred",))]
    )
    assert isinstance(outcome, ToolBatch) and outcome.errors == ()
    expected = parse_project(_load("sacred.json"), tool_id="s", package="sacred", url="u")
    assert sorted(outcome.releases, key=str) == sorted(expected.releases, key=str)
    assert simple.calls.last.request.headers["Accept"] == "application/vnd.pypi.simple.v1+json"
    assert [c.url for c in outcome.http_cache] == ["https://pypi.test/pypi/sacred/json"]
    assert ctx.requests.value == 2


@respx.mock
def test_a_failed_simple_api_fails_the_package_and_keeps_no_validator() -> None:
    respx.get("https://pypi.test/pypi/sacred/json").respond(
        json=_without_releases("sacred.json"), headers={"ETag": '"e1"'}
    )
    respx.get("https://pypi.test/simple/sacred/").respond(404)
    [outcome] = PypiCollector().collect(
        _ctx([]), [Tool(id="s", name="S", skill="mlops", pypi=("sacred",))]
    )
    assert isinstance(outcome, ToolFailure)
    assert "HTTP 404 from https://pypi.test/simple/sacred/" in outcome.error
