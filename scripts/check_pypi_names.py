#!/usr/bin/env python3
"""Check the catalog against PyPI: every ``pypi`` name exists, and its GitHub repo agrees.

Maintainer script (needs network access to PyPI; not part of the test run)::

    .venv/bin/python scripts/check_pypi_names.py [EXTRA_CATALOG.yaml ...] [--pypi-url URL]

For every PyPI name of every catalog tool it fetches ``<PyPI>/pypi/<name>/json`` (8 at a time,
User-Agent naming tracker, a few retries on connection errors, 429 and 5xx) and reports:

- **missing**: PyPI answers 404 (a typo, or a renamed or removed project). Exit code 1.
- **repo mismatches**: the package's ``project_urls``/``home_page`` name GitHub repos, none of
  which is the tool's ``github`` (or a ``formerly`` name) or another repo of the same owner (a
  client library in the project's org is normal). Often real (a moved repo the catalog missed),
  sometimes expected (a community client such as hvac for Vault): read them, fix the real
  ones. They do not change the exit code unless ``--strict``.

Exit codes: 0 all names exist; 1 some missing (or mismatches with ``--strict``); 2 the catalog
is invalid or PyPI could not be asked.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tracker.catalog import Tool, load_catalog
from tracker.collectors.base import USER_AGENT
from tracker.errors import CatalogError

CONCURRENCY = 8
RETRIES = 3
_GITHUB_RE = re.compile(
    r"github\.com[/:]([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/([A-Za-z0-9._-]+)", re.I
)
_NOT_REPOS = {"sponsors", "orgs", "features", "apps", "marketplace", "topics", "settings"}


@dataclass(slots=True)
class PackageInfo:
    """What PyPI said about one name."""

    name: str
    status: int  # HTTP status; 0 when PyPI could not be reached
    repos: frozenset[str] = frozenset()  # "owner/repo", lowercase
    error: str | None = None


@dataclass(slots=True)
class Report:
    """The outcome of one check."""

    checked: int = 0
    missing: list[tuple[str, str]] = field(default_factory=list)  # (tool_id, package)
    mismatches: list[tuple[str, str, str, frozenset[str]]] = field(default_factory=list)
    same_owner: int = 0  # packages whose repo is another repo of the tool's GitHub owner
    unreachable: list[tuple[str, str]] = field(default_factory=list)  # (package, error)


def github_repos(urls: Iterable[str]) -> frozenset[str]:
    """Return the ``owner/repo`` names (lowercase, no ``.git``) GitHub URLs in ``urls`` point to."""
    found: set[str] = set()
    for url in urls:
        for owner, repo in _GITHUB_RE.findall(url or ""):
            repo = repo.removesuffix(".git")
            if owner.lower() in _NOT_REPOS or not repo or repo.startswith("."):
                continue
            found.add(f"{owner}/{repo}".lower())
    return frozenset(found)


def fetch(
    client: httpx.Client, name: str, *, sleep: Callable[[float], None] = time.sleep
) -> PackageInfo:
    """Ask PyPI about ``name`` (retrying connection errors, 429 and 5xx)."""
    error = ""
    for attempt in range(RETRIES + 1):
        if attempt:
            sleep(min(2.0**attempt, 10.0))
        try:
            response = client.get(f"/pypi/{name}/json")
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            continue
        if response.status_code == 429 or response.status_code >= 500:
            error = f"HTTP {response.status_code}"
            continue
        if response.status_code != 200:
            return PackageInfo(name, response.status_code)
        try:
            info = response.json().get("info") or {}
        except ValueError:
            return PackageInfo(name, 200, error="not JSON")
        urls = list((info.get("project_urls") or {}).values())
        urls.append(info.get("home_page") or "")
        return PackageInfo(name, 200, github_repos(u for u in urls if isinstance(u, str)))
    return PackageInfo(name, 0, error=error)


def check(
    tools: Sequence[Tool],
    client: httpx.Client,
    *,
    concurrency: int = CONCURRENCY,
    sleep: Callable[[float], None] = time.sleep,
) -> Report:
    """Check every PyPI name of ``tools``; one request per distinct name."""
    names = sorted({p for t in tools for p in t.pypi})
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        infos = dict(
            zip(names, pool.map(lambda n: fetch(client, n, sleep=sleep), names), strict=True)
        )
    report = Report(checked=len(names))
    for tool in tools:
        known = {r.lower() for r in (tool.github, *tool.formerly) if r}
        for package in tool.pypi:
            info = infos[package]
            if info.status == 404:
                report.missing.append((tool.id, package))
            elif info.status != 200:
                report.unreachable.append((package, info.error or f"HTTP {info.status}"))
            elif tool.github and info.repos and not (info.repos & known):
                owners = {r.split("/")[0] for r in known}
                if any(r.split("/")[0] in owners for r in info.repos):
                    report.same_owner += 1  # a client library in the project's own org
                else:
                    report.mismatches.append((tool.id, package, tool.github, info.repos))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "catalogs", nargs="*", type=Path, help="extra catalog files merged over the bundled one"
    )
    parser.add_argument(
        "--pypi-url", default=os.environ.get("TRACKER_PYPI_URL", "https://pypi.org")
    )
    parser.add_argument("--strict", action="store_true", help="repo mismatches also fail")
    args = parser.parse_args(argv)
    try:
        catalog = load_catalog(args.catalogs)
    except CatalogError as exc:
        print(f"check_pypi_names: {exc}", file=sys.stderr)
        return 2
    headers = {"User-Agent": f"{USER_AGENT} check_pypi_names", "Accept": "application/json"}
    with httpx.Client(
        base_url=args.pypi_url, headers=headers, timeout=30.0, follow_redirects=True
    ) as client:
        report = check(catalog.tools, client)
    today = datetime.now(UTC).date().isoformat()
    for tool_id, package in report.missing:
        print(f"missing: {package} (tool {tool_id}): {args.pypi_url}/pypi/{package}/json is 404")
    for tool_id, package, repo, repos in report.mismatches:
        print(
            f"repo mismatch: tool {tool_id} says github {repo}; PyPI {package} names {', '.join(sorted(repos))}"
        )
    for package, error in report.unreachable:
        print(f"unchecked: {package}: {error}", file=sys.stderr)
    print(
        f"{today}: {report.checked} PyPI names checked ({len(catalog.tools)} tools): "
        f"{len(report.missing)} missing, {len(report.mismatches)} repo mismatches "
        f"({report.same_owner} more in the same GitHub owner), "
        f"{len(report.unreachable)} unchecked"
    )
    if report.unreachable:
        return 2
    if report.missing or (args.strict and report.mismatches):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
