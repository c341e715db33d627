"""`tracker collect --source github` end to end in-process, the GitHub emulator behind respx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import respx
from typer.testing import CliRunner

from fakes import GhRelease, GhRepo, at
from tests.collectors.github._support import API_URL, RespxGitHub, add_repo, headers_of
from tracker.cli import app

TOKEN = "ghp_CLIsecretTOKEN0987654321"


@pytest.fixture
def fake() -> Iterator[RespxGitHub]:
    with respx.mock(assert_all_called=False) as router:
        gh = RespxGitHub(router)
        flow_releases = [
            GhRelease("v2.0.0rc1", at("2026-11-01T08:00:00Z"), at("2026-11-01T09:00:00Z"),
                      "Release v2.0.0rc1", prerelease=True),
            GhRelease("v2.0.0-draft", at("2026-11-02T00:00:00Z"), None, draft=True),
            GhRelease("v1.9.0", at("2026-10-01T08:00:00Z"), at("2026-10-01T09:00:00Z")),
        ]  # fmt: skip
        add_repo(gh, "acme/flow", date(2025, 1, 1), seed=3, id=101, releases=flow_releases)
        first = at("2026-06-01T00:00:00Z")
        thing_releases = [GhRelease("0.1.0", first, first)]
        add_repo(gh, "oldorg/thing", date(2026, 3, 1), seed=5, id=202, releases=thing_releases)
        gh.emulator.rename("oldorg/thing", "neworg/thing")
        yield gh


@pytest.fixture
def env(fake: RespxGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    catalog = tmp_path / "extra.yaml"
    catalog.write_text(
        "tools:\n"
        "  - id: flow\n    name: Flow\n    skill: orchestration\n    github: acme/flow\n"
        "  - id: thing\n    name: Thing\n    skill: mlops\n    github: oldorg/thing\n"
    )
    monkeypatch.setenv("TRACKER_CATALOG", str(catalog))
    monkeypatch.setenv("TRACKER_GITHUB_API_URL", API_URL)  # GraphQL URL derived: /api/graphql
    return tmp_path / "w.duckdb"


def collect(db: Path) -> tuple[int, dict[str, Any]]:
    args = ["collect", "--source", "github", "--tool", "flow", "--tool", "thing"]
    result = CliRunner().invoke(app, [*args, "--db", str(db), "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return [tuple(r) for r in con.execute(sql).fetchall()]
    finally:
        con.close()


def repos(fake: RespxGitHub) -> dict[str, GhRepo]:
    by_id = {r.id: r for r in fake.emulator.repos}
    return {"flow": by_id[101], "thing": by_id[202]}


def expected_weeks(fake: RespxGitHub) -> list[tuple[str, date, int, str]]:
    out = []
    for tool, repo in repos(fake).items():
        for week in repo.star_weeks:
            out.append((tool, week.week, week.total, repo.full_name))
    return sorted(out)


def check_rows(db: Path, fake: RespxGitHub, snapshots_per_tool: int) -> None:
    assert query(
        db,
        "SELECT tool_id, week_start, stars_added, repo FROM star_history"
        " WHERE source = 'github' ORDER BY 1, 2",
    ) == expected_weeks(fake)
    assert query(db, "SELECT count(*) FROM star_history WHERE source <> 'github'") == [(0,)]
    assert query(
        db,
        "SELECT tool_id, project, version, released_at, is_prerelease FROM releases"
        " WHERE source = 'github' ORDER BY 1, 3",
    ) == [
        ("flow", "acme/flow", "v1.9.0", datetime(2026, 10, 1, 9), False),
        ("flow", "acme/flow", "v2.0.0rc1", datetime(2026, 11, 1, 9), True),
        ("thing", "neworg/thing", "0.1.0", datetime(2026, 6, 1), False),
    ]
    snaps = query(
        db,
        "SELECT tool_id, repo, stars, forks, open_issues, watchers, archived FROM repo_snapshots"
        " ORDER BY observed_at, tool_id",
    )
    flow, thing = repos(fake).values()
    assert (
        snaps
        == [
            ("flow", "acme/flow", flow.stargazers_count, 10, 3, 7, False),
            ("thing", "neworg/thing", thing.stargazers_count, 10, 3, 7, False),
        ]
        * snapshots_per_tool
    )
    assert query(
        db, "SELECT tool_id, repo_id, full_name, catalog_name FROM repo_identities ORDER BY 1"
    ) == [
        ("flow", 101, "acme/flow", "acme/flow"),
        ("thing", 202, "neworg/thing", "oldorg/thing"),
    ]


@pytest.mark.parametrize("token", [None, TOKEN], ids=["no-token", "token"])
def test_collect_twice_fills_tables_exactly_and_second_run_is_cheap(
    fake: RespxGitHub, env: Path, monkeypatch: pytest.MonkeyPatch, token: str | None
) -> None:
    if token:
        monkeypatch.setenv("GITHUB_TOKEN", token)
    code, summary = collect(env)
    assert code == 0, summary
    gh = summary["sources"][0]
    assert gh["status"] == "ok" and gh["tools_ok"] == 2
    assert gh["warnings"] == [
        {
            "tool_id": "thing",
            "warning": "catalog says oldorg/thing, GitHub says neworg/thing: update the catalog",
        }
    ]
    first_requests = len(fake.calls)
    assert gh["requests"] == first_requests
    pages = sum(-(-len(r.star_weeks) // 30) for r in repos(fake).values())
    # per repo: history pages + at most 2 more (repo, releases; GraphQL batch with a token)
    assert first_requests <= pages + 2 * len(repos(fake)) + 1  # +1: one 301 hop
    check_rows(env, fake, 1)

    code, summary = collect(env)
    assert code == 0, summary
    second = len(fake.calls) - first_requests
    assert summary["sources"][0]["requests"] == second
    assert query(env, "SELECT requests FROM runs ORDER BY run_id") == [(first_requests,), (second,)]
    if token:
        # one GraphQL request for both repos; unchanged stars: history not asked again this week
        assert second == 1
        assert all(headers_of(r)["authorization"] == f"Bearer {TOKEN}" for r in fake.calls)
    else:
        # unchanged repos (304): releases and history are not asked again within the week
        assert second <= 3  # one conditional repo request each (+ the 301 hop)
        assert all("if-none-match" in headers_of(r) for r in fake.calls[first_requests:])
        assert all("authorization" not in headers_of(r) for r in fake.calls)
    check_rows(env, fake, 2)
    assert TOKEN not in json.dumps(summary)


def test_collect_without_network_fails_fast_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    args = ["collect", "--source", "github", "--tool", "airflow", "--tool", "dagster"]
    result = CliRunner().invoke(app, [*args, "--db", str(tmp_path / "x.duckdb")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("github: failed, 0 tools stored, 2 failed")
    assert "cannot connect" in lines[0] or "unreachable" in lines[0]
    assert TOKEN not in result.output
