"""PyPI: every version of each catalog package with its first upload time.

Docs: https://docs.pypi.org/api/json/ . ``GET /pypi/<name>/json`` lists ``releases`` as
``{version: [file, ...]}``; a version with no files is skipped (and counted); a version's
release time is its earliest file's ``upload_time_iso_8601``; it is yanked when all its files are.

PyPI documents ``releases`` as deprecated ("may be removed"). When a JSON API answer has no
``releases`` key, the versions come from the Simple API in JSON instead (PEP 691,
https://peps.python.org/pep-0691/; ``upload-time`` from PEP 700): ``GET /simple/<name>/`` with
``Accept: application/vnd.pypi.simple.v1+json`` lists every file with its ``filename``,
``upload-time`` (may be absent) and ``yanked`` (false, true or a reason string), plus the
``versions`` list; each file's version is read from its sdist or wheel file name.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import ClassVar

import httpx

from tracker.catalog import Tool
from tracker.collectors._packages import (
    Fetched,
    PackageCollector,
    PackageResult,
    PackageSource,
    get_json,
    normalize,
)
from tracker.collectors._pypi_parse import (
    ProjectDocument,
    PypiProject,
    decode_project,
    parse_project,
    parse_simple,
)
from tracker.collectors.base import CollectContext, register
from tracker.records import HttpCacheRecord

__all__ = [
    "SIMPLE_JSON",
    "FetchedProject",
    "PypiCollector",
    "PypiProject",
    "collect_project",
    "fetch_project",
    "fetch_simple",
    "normalize",
    "parse_project",
    "parse_simple",
]

log = logging.getLogger(__name__)

SOURCE = "pypi"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"  # PEP 691

FetchedProject = Fetched  # a JSON API answer (payload None on 304)


def project_url(base_url: str, package: str) -> str:
    """Return the JSON API URL of ``package`` under PyPI's ``base_url``."""
    return f"{base_url}/pypi/{normalize(package)}/json"


def fetch_project(
    client: httpx.Client, package: str, validators: tuple[str | None, str | None] = (None, None)
) -> Fetched:
    """Return ``/pypi/<package>/json``, conditional on stored validators; raises UpstreamError."""
    return get_json(
        client,
        f"/pypi/{normalize(package)}/json",
        source=SOURCE,
        not_found=f"unknown PyPI project {package!r}",
        validators=validators,
    )


def fetch_simple(client: httpx.Client, package: str) -> Fetched:
    """Return the Simple API page of ``package`` in JSON (PEP 691); raises UpstreamError."""
    return get_json(
        client,
        f"/simple/{normalize(package)}/",
        source=SOURCE,
        not_found=f"unknown PyPI project {package!r}",
        accept=SIMPLE_JSON,
    )


def lacks_releases(payload: object) -> bool:
    """Return True for a JSON API document without the (deprecated) ``releases`` key (or with
    ``"releases": null``)."""
    if isinstance(payload, ProjectDocument):
        return payload.releases is None
    return isinstance(payload, dict) and "info" in payload and payload.get("releases") is None


def _invalid_warning(totals: Mapping[str, int]) -> tuple[str, ...]:
    invalid = totals.get("invalid_versions", 0)
    return (f"{invalid} version(s) are not PEP 440 (stored, flagged)",) if invalid else ()


def collect_project(
    ctx: CollectContext,
    client: httpx.Client,
    tool: Tool,
    package: str,
    validators: tuple[str | None, str | None],
) -> PackageResult:
    """Return one package's releases: the JSON API, or the Simple API when it lacks them."""
    fetched = fetch_project(client, package, validators)
    if fetched.payload is None:
        return PackageResult(counters=(("not_modified", 1),))
    if lacks_releases(fetched.payload):
        log.info("pypi: %s has no `releases` key; versions from the Simple API", package)
        simple = fetch_simple(client, package)
        project = parse_simple(simple.payload, tool_id=tool.id, url=simple.url)
    else:
        project = parse_project(fetched.payload, tool_id=tool.id, package=package, url=fetched.url)
    cache = HttpCacheRecord(fetched.url, fetched.etag, fetched.last_modified, ctx.now())
    return PackageResult(
        releases=project.releases,
        http_cache=(cache,) if fetched.etag or fetched.last_modified else (),
        counters=(
            ("versions_without_files", project.versions_without_files),
            ("invalid_versions", project.invalid_versions),
        ),
    )


@register(SOURCE)
class PypiCollector(PackageCollector[tuple[str | None, str | None]]):
    """Collects release histories from PyPI's JSON API with bounded concurrency."""

    name: ClassVar[str] = SOURCE

    def client(self, ctx: CollectContext) -> httpx.Client:
        """Return PyPI's client (JSON API documents are decoded by ``decode_project``)."""
        return self.json_client(ctx, ctx.settings.pypi_url, decode=decode_project)

    def source(
        self, ctx: CollectContext, client: httpx.Client
    ) -> PackageSource[tuple[str | None, str | None]]:
        """Return the declaration: validators as cursors, up to ``pypi_concurrency`` at once."""
        base = ctx.settings.pypi_url
        return PackageSource(
            name=SOURCE,
            url=lambda package: project_url(base, package),
            prepare=lambda tool, package: ctx.state.http_validators(project_url(base, package)),
            work=lambda tool, package, validators: collect_project(
                ctx, client, tool, package, validators
            ),
            counters=("versions_without_files", "invalid_versions", "not_modified"),
            tool_warnings=_invalid_warning,
            workers=max(1, ctx.settings.pypi_concurrency),
        )
