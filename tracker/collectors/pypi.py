"""PyPI JSON API: every version of each catalog package with its first upload time.

Docs: https://docs.pypi.org/api/json/ . ``GET /pypi/<name>/json`` lists ``releases`` as
``{version: [file, ...]}``; a version with no files is skipped (and counted); a version's
release time is its earliest file's ``upload_time_iso_8601``; it is yanked when all its files are.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

import httpx
from packaging.version import InvalidVersion, Version

from tracker.catalog import Tool
from tracker.collectors.base import (
    CollectContext,
    describe_body,
    isolate,
    make_client,
    register,
)
from tracker.errors import ParseError, SourceUnreachableError, TrackerError, UpstreamError
from tracker.records import HttpCacheRecord, ReleaseRecord, ToolBatch, ToolFailure, ToolOutcome

__all__ = [
    "FetchedProject",
    "PypiCollector",
    "PypiProject",
    "fetch_project",
    "normalize",
    "parse_project",
]

log = logging.getLogger(__name__)

SOURCE = "pypi"


def normalize(name: str) -> str:
    """Return the PEP 503 normalised form of a project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True, slots=True)
class PypiProject:
    """Parsed releases of one PyPI project."""

    name: str
    releases: tuple[ReleaseRecord, ...]
    versions_without_files: int
    invalid_versions: int


def _parse_time(file: dict[str, object], url: str) -> datetime | None:
    iso = file.get("upload_time_iso_8601")
    naive = file.get("upload_time")
    for value, assume_utc in ((iso, False), (naive, True)):
        if isinstance(value, str) and value:
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                if parsed.tzinfo is None or assume_utc:
                    parsed = parsed.replace(tzinfo=UTC)
                return parsed.astimezone(UTC)
            except (ValueError, OverflowError):  # OverflowError: year 1 with a positive offset
                continue
    if iso is None and naive is None:
        return None
    raise ParseError(
        "upload time is not an ISO 8601 timestamp",
        source=SOURCE,
        field="releases[].upload_time",
        url=url,
    )


def parse_project(payload: object, *, tool_id: str, package: str, url: str) -> PypiProject:
    """Return the versions in a ``/pypi/<name>/json`` payload as release records (UTC)."""
    if not isinstance(payload, dict):
        raise ParseError("payload is not a JSON object", source=SOURCE, field="$", url=url)
    info = payload.get("info")
    releases = payload.get("releases")
    if not isinstance(info, dict) or not isinstance(info.get("name"), str):
        raise ParseError("missing", source=SOURCE, field="info.name", url=url)
    if not isinstance(releases, dict):
        raise ParseError("missing or not an object", source=SOURCE, field="releases", url=url)
    name = normalize(str(info["name"]))
    records: list[ReleaseRecord] = []
    empty = invalid = 0
    for version, files in releases.items():
        if not isinstance(files, list):
            raise ParseError(
                f"version {version!r} has no file list", source=SOURCE, field="releases", url=url
            )
        file_dicts = [f for f in files if isinstance(f, dict)]
        if not file_dicts:
            empty += 1
            continue
        times = [t for t in (_parse_time(f, url) for f in file_dicts) if t is not None]
        try:
            prerelease = Version(str(version)).is_prerelease
            valid = True
        except (InvalidVersion, ValueError):  # ValueError: > 4,300 digits (int conversion limit)
            prerelease, valid = False, False
            invalid += 1
        records.append(
            ReleaseRecord(
                tool_id=tool_id,
                source=SOURCE,
                project=name,
                version=str(version),
                released_at=min(times) if times else None,
                is_prerelease=prerelease,
                is_yanked=all(bool(f.get("yanked")) for f in file_dicts),
                version_valid=valid,
            )
        )
    return PypiProject(
        name=name, releases=tuple(records), versions_without_files=empty, invalid_versions=invalid
    )


@dataclass(frozen=True, slots=True)
class FetchedProject:
    """A ``/pypi/<name>/json`` answer: the payload, or None when 304 Not Modified."""

    url: str
    payload: object | None
    etag: str | None
    last_modified: str | None


def fetch_project(
    client: httpx.Client, package: str, validators: tuple[str | None, str | None] = (None, None)
) -> FetchedProject:
    """Return ``/pypi/<package>/json``, conditional on stored validators; raises UpstreamError."""
    path = f"/pypi/{normalize(package)}/json"
    url = str(client.base_url.join(path))
    etag, last_modified = validators
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    response = client.get(path, headers=headers)
    if response.status_code == 304:
        return FetchedProject(url, None, etag, last_modified)
    if response.status_code == 404:
        raise UpstreamError(f"unknown PyPI project {package!r}", source=SOURCE, url=url, status=404)
    if response.status_code != 200:
        raise UpstreamError(
            describe_body(response), source=SOURCE, url=url, status=response.status_code
        )
    try:
        payload = json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UpstreamError(
            f"invalid JSON ({describe_body(response)})",
            source=SOURCE,
            url=url,
            status=response.status_code,
        ) from exc
    return FetchedProject(
        url, payload, response.headers.get("etag"), response.headers.get("last-modified")
    )


@register(SOURCE)
class PypiCollector:
    """Collects release histories from PyPI's JSON API with bounded concurrency."""

    name: ClassVar[str] = SOURCE

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self.transport = transport

    def applicable(self, tool: Tool) -> bool:
        """Return True when the tool lists PyPI packages."""
        return bool(tool.pypi)

    def _one(
        self,
        ctx: CollectContext,
        client: httpx.Client,
        tool: Tool,
        validators: dict[str, tuple[str | None, str | None]],
    ) -> ToolOutcome:
        records: list[ReleaseRecord] = []
        cache: list[HttpCacheRecord] = []
        errors: list[str] = []
        empty = invalid = unchanged = 0
        for package in tool.pypi:
            if ctx.stop_requested():
                errors.append(f"{package}: not collected (stop requested)")
                continue
            url = f"{ctx.settings.pypi_url}/pypi/{normalize(package)}/json"
            try:
                fetched = fetch_project(client, package, validators.get(url, (None, None)))
                if fetched.payload is None:
                    unchanged += 1
                    continue
                project = parse_project(
                    fetched.payload, tool_id=tool.id, package=package, url=fetched.url
                )
            except SourceUnreachableError as exc:
                errors.append(exc.not_collected)
                continue
            except TrackerError as exc:
                errors.append(str(exc))
                continue
            records.extend(project.releases)
            if fetched.etag or fetched.last_modified:
                cache.append(
                    HttpCacheRecord(fetched.url, fetched.etag, fetched.last_modified, ctx.now())
                )
            empty += project.versions_without_files
            invalid += project.invalid_versions
        if errors and not records and not unchanged:
            return ToolFailure(tool.id, "; ".join(errors))
        warnings = (f"{invalid} version(s) are not PEP 440 (stored, flagged)",) if invalid else ()
        return ToolBatch(
            tool_id=tool.id,
            releases=tuple(records),
            http_cache=tuple(cache),
            errors=tuple(errors),
            warnings=warnings,
            counters=(
                ("versions_without_files", empty),
                ("invalid_versions", invalid),
                ("not_modified", unchanged),
            ),
        )

    def collect(self, ctx: CollectContext, tools: Sequence[Tool]) -> Iterator[ToolOutcome]:
        """Yield one outcome per tool, fetching up to ``pypi_concurrency`` projects at once."""
        with make_client(
            ctx,
            source=SOURCE,
            base_url=ctx.settings.pypi_url,
            headers={"Accept": "application/json"},
            check_json=True,
            transport=self.transport,
        ) as client:
            # the warehouse connection is not shared with worker threads: read cursors first
            validators = {
                url: ctx.state.http_validators(url)
                for tool in tools
                for url in (f"{ctx.settings.pypi_url}/pypi/{normalize(p)}/json" for p in tool.pypi)
            }
            workers = max(1, ctx.settings.pypi_concurrency)
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pypi") as pool:
                yield from pool.map(
                    lambda tool: isolate(
                        tool.id, functools.partial(self._one, ctx, client, tool, validators)
                    ),
                    tools,
                )
