"""Apache release archive: one release per version directory of ``<archive>/<project>/``.

The archive (https://archive.apache.org/dist/) is served by Apache httpd's autoindex
(https://httpd.apache.org/docs/2.4/mod/mod_autoindex.html): a ``<table>`` (HTMLTable) or a
``<pre>`` listing with the columns Name, Last modified, Size, Description. Rows include a
"Parent Directory" link, column sort links (``?C=N;O=D``), files (``KEYS``) and one directory per
release (``5.2.1/``, older ones sometimes ``oozie-3.3.2/``). A directory's Last modified time (UTC,
no zone given) stands in for the release date: close to it, not exact.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

import httpx
from packaging.version import InvalidVersion, Version

from tracker.catalog import Tool
from tracker.collectors.base import (
    BaseCollector,
    CollectContext,
    RateLimiter,
    isolate,
    make_client,
    register,
)
from tracker.errors import ParseError, SourceUnreachableError, TrackerError, UpstreamError
from tracker.records import ReleaseRecord, ToolBatch, ToolFailure, ToolOutcome

__all__ = [
    "ApacheCollector",
    "ListingEntry",
    "fetch_listing",
    "parse_listing",
    "parse_releases",
    "release_version",
]

log = logging.getLogger(__name__)

SOURCE = "apache"
# The archive is a shared, donated service: one listing per second is plenty for a few projects.
REQUESTS_PER_SECOND = 1

# autoindex dates: ISO-like (IndexOptions with a date format) or httpd's default "05-Mar-2021 10:32"
_DATE_RES = (
    (
        re.compile(r"\b(\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2})?)\b"),
        ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"),
    ),
    (
        re.compile(r"\b(\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}(?::\d{2})?)\b"),
        ("%d-%b-%Y %H:%M", "%d-%b-%Y %H:%M:%S"),
    ),
)
# Apache qualifiers that are not PEP 440 but mark a real release of a podling
_QUALIFIER_RE = re.compile(r"[-.]incubating$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ListingEntry:
    """One link of a directory listing: its href and the Last modified time (UTC) on its row."""

    href: str
    modified_at: datetime | None


def _parse_modified(text: str) -> datetime | None:
    for pattern, formats in _DATE_RES:
        match = pattern.search(text)
        if not match:
            continue
        for fmt in formats:
            try:
                return datetime.strptime(match.group(1), fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
    return None


def parse_listing(html: str) -> list[ListingEntry]:
    """Return every link of an autoindex page (table or pre layout) with its row's time (UTC)."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    entries: list[ListingEntry] = []
    for row in tree.css("tr"):
        link = row.css_first("a[href]")
        if link is None:
            continue
        cells = [td.text() for td in row.css("td")]
        modified = next((t for t in (_parse_modified(c) for c in cells) if t is not None), None)
        entries.append(ListingEntry(str(link.attributes.get("href") or ""), modified))
    for pre in tree.css("pre"):
        for link in pre.css("a[href]"):
            # the row's columns are the text between this link and the end of its line
            after = link.next
            tail = ""
            while after is not None and after.tag == "-text":
                tail += after.text(deep=False) or ""
                if "\n" in tail:
                    break
                after = after.next
            modified = _parse_modified(tail.split("\n", 1)[0])
            entries.append(ListingEntry(str(link.attributes.get("href") or ""), modified))
    return entries


def release_version(href: str, project: str) -> str | None:
    """Return the version a listing href names (``5.2.1/``, ``oozie-3.3.2/``), or None.

    Only relative links to a subdirectory whose name, without a project prefix, parses as a
    version count: not the parent link, sort links, files such as KEYS, or other directories.
    """
    if not href.endswith("/") or href.startswith(("/", "?", "#", ".")) or "://" in href:
        return None
    name = href[:-1]
    if not name or "/" in name or "?" in name:
        return None
    for prefix in (f"{project}-", f"apache-{project}-", f"{project}_"):
        if name.lower().startswith(prefix):
            name = name[len(prefix) :]
            break
    core = _QUALIFIER_RE.sub("", name)
    if not core or not core[0].isdigit():
        return None  # a named directory (providers/, helm-chart/, stable/ ...)
    try:
        Version(core)
    except (InvalidVersion, ValueError):  # ValueError: > 4,300 digits
        return None
    return name


def parse_releases(
    entries: Sequence[ListingEntry], *, tool_id: str, project: str
) -> list[ReleaseRecord]:
    """Return one release per version directory; a version listed twice keeps its earliest time."""
    found: dict[str, datetime | None] = {}
    for entry in entries:
        version = release_version(entry.href, project)
        if version is None:
            continue
        if version in found:
            times = [t for t in (found[version], entry.modified_at) if t is not None]
            found[version] = min(times) if times else None
        else:
            found[version] = entry.modified_at
    records = []
    for version, released_at in found.items():
        try:
            parsed: Version | None = Version(version)
        except (InvalidVersion, ValueError):  # ValueError: > 4,300 digits
            parsed = None  # e.g. "3.1.3-incubating": a release, but not a PEP 440 string
        core = parsed or Version(_QUALIFIER_RE.sub("", version))
        records.append(
            ReleaseRecord(
                tool_id=tool_id,
                source=SOURCE,
                project=project,
                version=version,
                released_at=released_at,
                is_prerelease=core.is_prerelease,
                is_yanked=False,
                version_valid=parsed is not None,
            )
        )
    return sorted(records, key=lambda r: Version(_QUALIFIER_RE.sub("", r.version)))


def fetch_listing(client: httpx.Client, project: str) -> tuple[str, str]:
    """Return (url, HTML) of the archive's listing of ``project``; raises UpstreamError."""
    path = f"/{project}/"
    url = str(client.base_url) + path.lstrip("/")
    response = client.get(path)
    if response.status_code == 404:
        raise UpstreamError(
            f"no archive directory for project {project!r}", source=SOURCE, url=url, status=404
        )
    if response.status_code != 200:
        text = response.text.strip()
        first = text.splitlines()[0][:120] if text else "empty body"
        raise UpstreamError(first, source=SOURCE, url=url, status=response.status_code)
    ctype = response.headers.get("content-type", "")
    if ctype and "html" not in ctype:
        raise ParseError(
            f"expected an HTML listing, got {ctype!r}", source=SOURCE, field="$", url=url
        )
    return url, response.text


def _outcome(tool: Tool, url: str, entries: list[ListingEntry]) -> ToolOutcome:
    """Return the tool's releases from its listing entries, or a failure when there are none."""
    releases = parse_releases(entries, tool_id=tool.id, project=tool.apache or "")
    if not releases:
        return ToolFailure(tool.id, f"apache: no version directory in the listing at {url}")
    undated = sum(1 for r in releases if r.released_at is None)
    invalid = sum(1 for r in releases if not r.version_valid)
    warnings = []
    if undated:
        warnings.append(f"{undated} release(s) without a Last modified time")
    if invalid:
        warnings.append(f"{invalid} version(s) are not PEP 440 (stored, flagged)")
    return ToolBatch(
        tool_id=tool.id,
        releases=tuple(releases),
        warnings=tuple(warnings),
        counters=(("listing_links", len(entries)), ("releases", len(releases))),
    )


@register(SOURCE)
class ApacheCollector(BaseCollector):
    """Collects release directories from the Apache archive's listings, serially."""

    name: ClassVar[str] = SOURCE

    def applicable(self, tool: Tool) -> bool:
        """Return True when the tool names an Apache archive project."""
        return bool(tool.apache)

    def collect(self, ctx: CollectContext, tools: Sequence[Tool]) -> Iterator[ToolOutcome]:
        """Yield one outcome per tool: its archive listing's version directories."""
        limiter = RateLimiter(REQUESTS_PER_SECOND, 1.0, sleep=ctx.sleep, clock=self.clock)
        stopped: SourceUnreachableError | None = None
        with make_client(
            ctx,
            source=SOURCE,
            base_url=ctx.settings.apache_url,
            headers={"Accept": "text/html"},
            transport=self.transport,
        ) as client:
            for tool in tools:
                project = tool.apache or ""
                if stopped is not None:
                    own_url = str(client.base_url).rstrip("/") + f"/{project}/"
                    yield ToolFailure(tool.id, stopped.for_url(own_url).not_collected)
                    continue
                if ctx.stop_requested():
                    yield ToolFailure(tool.id, "not collected (stop requested)")
                    continue
                limiter.wait()
                try:
                    url, html = fetch_listing(client, project)
                    entries = parse_listing(html)
                except SourceUnreachableError as exc:
                    stopped = exc
                    yield ToolFailure(tool.id, exc.not_collected)
                    continue
                except TrackerError as exc:
                    yield ToolFailure(tool.id, str(exc))
                    continue
                yield isolate(tool.id, functools.partial(_outcome, tool, url, entries))
