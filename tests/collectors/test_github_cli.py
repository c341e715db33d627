"""`tracker collect --source github` end to end against a loopback GitHub-compatible server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.fixtures.github.fake_server import FakeGitHub, FakeRepo, make_release, make_weeks
from tracker.cli import app

TOKEN = "ghp_CLIsecretTOKEN0987654321"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    server = FakeGitHub().start()
    flow = make_weeks(date(2025, 1, 1), date(2026, 11, 22), seed=3)
    server.add(
        FakeRepo(
            101,
            "acme/flow",
            "2025-01-01T10:00:00Z",
            stars=sum(t for _, t in flow),
            weeks=flow,
            releases=[
                make_release("v2.0.0rc1", "2026-11-01T09:00:00Z", pre=True),
                make_release("v2.0.0-draft", None, draft=True),
                make_release("v1.9.0", "2026-10-01T09:00:00Z"),
            ],
        )
    )
    thing = make_weeks(date(2026, 3, 1), date(2026, 11, 22), seed=5)
    server.add(
        FakeRepo(
            202,
            "oldorg/thing",
            "2026-03-01T00:00:00Z",
            stars=sum(t for _, t in thing),
            weeks=thing,
            releases=[make_release("0.1.0", "2026-06-01T00:00:00Z")],
        )
    )
    server.rename(202, "neworg/thing")
    yield server
    server.stop()


@pytest.fixture
def env(fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    catalog = tmp_path / "extra.yaml"
    catalog.write_text(
        "tools:\n"
        "  - id: flow\n    name: Flow\n    skill: orchestration\n    github: acme/flow\n"
        "  - id: thing\n    name: Thing\n    skill: mlops\n    github: oldorg/thing\n"
    )
    monkeypatch.setenv("TRACKER_CATALOG", str(catalog))
    monkeypatch.setenv("TRACKER_GITHUB_API_URL", fake.url)
    monkeypatch.setenv("TRACKER_GITHUB_GRAPHQL_URL", fake.graphql_url)
    return tmp_path / "w.duckdb"


def collect(db: Path) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(
        app,
        [
            "collect",
            "--source",
            "github",
            "--tool",
            "flow",
            "--tool",
            "thing",
            "--db",
            str(db),
            "--json",
        ],
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return [tuple(r) for r in con.execute(sql).fetchall()]
    finally:
        con.close()


def expected_weeks(fake: FakeGitHub) -> list[tuple[str, date, int, str]]:
    out = []
    for tool, repo_id in (("flow", 101), ("thing", 202)):
        repo = fake.repos[repo_id]
        for week, total in repo.weeks:
            out.append((tool, datetime.fromtimestamp(week, UTC).date(), total, repo.full_name))
    return sorted(out)


def check_rows(db: Path, fake: FakeGitHub, snapshots_per_tool: int) -> None:
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
    flow, thing = fake.repos[101], fake.repos[202]
    assert (
        snaps
        == [
            ("flow", "acme/flow", flow.stars, 10, 3, 7, False),
            ("thing", "neworg/thing", thing.stars, 10, 3, 7, False),
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
    fake: FakeGitHub, env: Path, monkeypatch: pytest.MonkeyPatch, token: str | None
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
    first_requests = len(fake.log)
    assert gh["requests"] == first_requests
    pages = sum(-(-len(r.weeks) // 30) for r in fake.repos.values())
    # per repo: history pages + at most 2 more (repo, releases; GraphQL batch with a token)
    assert first_requests <= pages + 2 * len(fake.repos) + 1  # +1: one 301 hop
    check_rows(env, fake, 1)

    code, summary = collect(env)
    assert code == 0, summary
    second = len(fake.log) - first_requests
    assert summary["sources"][0]["requests"] == second
    assert query(env, "SELECT requests FROM runs ORDER BY run_id") == [(first_requests,), (second,)]
    if token:
        # one GraphQL request for both repos; unchanged stars: history not asked again this week
        assert second == 1
        assert all(r["authorization"] == f"token {TOKEN}" for r in fake.log)
    else:
        # unchanged repos (304): releases and history are not asked again within the week
        assert second <= 3  # one conditional repo request each (+ the 301 hop)
        assert all(r["if_none_match"] for r in fake.log[first_requests:])
        assert all(r["authorization"] is None for r in fake.log)
    check_rows(env, fake, 2)
    assert TOKEN not in json.dumps(summary)


def test_collect_without_network_fails_fast_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    result = CliRunner().invoke(
        app,
        [
            "collect",
            "--source",
            "github",
            "--tool",
            "airflow",
            "--tool",
            "dagster",
            "--db",
            str(tmp_path / "x.duckdb"),
        ],
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("github: failed, 0 tools stored, 2 failed")
    assert "cannot connect" in lines[0] or "unreachable" in lines[0]
    assert TOKEN not in result.output
