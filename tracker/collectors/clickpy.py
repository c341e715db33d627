"""ClickPy: each package's full daily download history from ClickHouse's public ``pypi`` database.

Docs: https://clickhouse.com/docs/interfaces/http (HTTP interface, query parameters, formats) and
https://github.com/ClickHouse/clickpy (the dataset). The query is POSTed to ``/?user=<user>`` with
the SQL as the body; the package name and dates travel only as query parameters
(``{name:String}`` in the SQL, ``param_name=...`` in the URL). ``FORMAT JSONEachRow`` gives one
JSON object per line, with 64-bit integers quoted as strings by default. An error can arrive
after a 200 status when the result was already streaming: the body then ends with
``Code: NNN. DB::Exception: ...`` instead of a JSON line.

The first run backfills everything since 2016; later runs ask only for the days after the newest
stored one, minus a short lag window that is re-read because the dataset loads a day in batches.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import ClassVar

import httpx

from tracker.catalog import Tool
from tracker.collectors.base import CollectContext, isolate, make_client, register
from tracker.collectors.pypi import normalize
from tracker.errors import ParseError, SourceUnreachableError, TrackerError, UpstreamError
from tracker.records import DownloadRecord, ToolBatch, ToolFailure, ToolOutcome

__all__ = [
    "DOWNLOADS_SQL",
    "ClickHouseError",
    "ClickpyCollector",
    "fetch_daily",
    "parse_daily",
    "query_window",
]

log = logging.getLogger(__name__)

SOURCE = "clickpy"
# Days before the newest stored day that are asked again (and overwritten) on each run: the
# dataset loads a day in several batches, so the last day or two may still grow.
LAG_DAYS = 3
EPOCH = date(1970, 1, 1)  # ClickHouse Date starts here; the dataset itself starts in 2016

# Upstream SQL (ClickHouse dialect), not warehouse SQL: values only as {param:Type} placeholders.
# pypi_downloads_per_day is a SummingMergeTree: rows of a day may not be merged yet, so sum().
DOWNLOADS_SQL = """\
SELECT date, sum(count) AS downloads
FROM pypi.pypi_downloads_per_day
WHERE project = {name:String} AND date > {since:Date} AND date < {until:Date}
GROUP BY date
ORDER BY date
FORMAT JSONEachRow"""

# PEP 503 normalised names only: what the dataset's `project` column holds.
_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,198}[a-z0-9])?$")
_EXCEPTION_RE = re.compile(r"Code: (\d+)\. DB::Exception: ?([^\n]*)")


class ClickHouseError(UpstreamError):
    """ClickHouse reported an exception (``Code: NNN. DB::Exception``), maybe after a 200."""


def query_window(last_day: date | None, today: date) -> tuple[date, date]:
    """Return the exclusive (since, until) days to ask for: a backfill or the days after a cursor.

    ``until`` is today (UTC): an unfinished day is never stored.
    """
    if last_day is None:
        return EPOCH, today
    return max(EPOCH, last_day - timedelta(days=LAG_DAYS)), today


def _exception_in(text: str) -> str | None:
    match = _EXCEPTION_RE.search(text)
    if match:
        return f"Code: {match.group(1)}. DB::Exception: {match.group(2).strip()}"[:300]
    return None


def parse_daily(body: str, *, tool_id: str, package: str, url: str) -> list[DownloadRecord]:
    """Return the JSONEachRow lines ``{"date": ..., "downloads": ...}`` as daily records (UTC days).

    Raises ClickHouseError when the body carries an exception (also after a 200 status).
    """
    by_day: dict[date, int] = {}
    lines = body.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:  # JSONDecodeError, or a number beyond the int conversion limit
            row = None
        if not isinstance(row, dict):
            error = _exception_in("\n".join(lines[number - 1 :]))
            if error:
                raise ClickHouseError(
                    f"query failed after {len(by_day)} rows: {error}",
                    source=SOURCE,
                    url=url,
                    status=200,
                )
            raise ParseError(
                f"line {number} is not a JSON object: {line[:80]!r}",
                source=SOURCE,
                field="JSONEachRow",
                url=url,
            )
        if "exception" in row:  # newer servers write the error as a JSON line
            raise ClickHouseError(
                f"query failed after {len(by_day)} rows: {str(row['exception'])[:300]}",
                source=SOURCE,
                url=url,
                status=200,
            )
        _add_row(by_day, row, number=number, url=url)
    return [
        DownloadRecord(tool_id=tool_id, package=package, day=day, downloads=n, source=SOURCE)
        for day, n in sorted(by_day.items())
    ]


_UINT64 = re.compile(r"[0-9]{1,20}")  # ASCII digits only: str.isdigit() accepts "²"


def _add_row(by_day: dict[date, int], row: dict[str, object], *, number: int, url: str) -> None:
    """Add one parsed row to ``by_day``; 64-bit counts may be JSON strings or numbers."""
    raw_day, raw_count = row.get("date"), row.get("downloads")
    try:
        day = date.fromisoformat(raw_day) if isinstance(raw_day, str) else None
    except ValueError:
        day = None
    if day is None:
        raise ParseError(
            f"line {number}: not a YYYY-MM-DD date: {raw_day!r}",
            source=SOURCE,
            field="date",
            url=url,
        )
    count: int | None = None
    if isinstance(raw_count, int) and not isinstance(raw_count, bool):
        count = raw_count
    elif isinstance(raw_count, str) and _UINT64.fullmatch(raw_count):
        count = int(raw_count)
    if count is None or count < 0:
        raise ParseError(
            f"line {number}: not a non-negative integer: {raw_count!r}",
            source=SOURCE,
            field="downloads",
            url=url,
        )
    if day in by_day:
        raise ParseError(
            f"line {number}: {day} appears twice (query not grouped by date)",
            source=SOURCE,
            field="date",
            url=url,
        )
    by_day[day] = count


def fetch_daily(
    client: httpx.Client, package: str, *, user: str, since: date, until: date
) -> tuple[str, str]:
    """Return (url, body) of the daily-downloads query for ``package`` over (since, until).

    Raises UpstreamError on an HTTP error, ClickHouseError when ClickHouse reports one.
    """
    if not _NAME_RE.match(package):
        raise UpstreamError(
            f"package name {package!r} is not a normalised PyPI name; not queried",
            source=SOURCE,
            url=str(client.base_url),
        )
    params = {
        "user": user,
        "param_name": package,
        "param_since": since.isoformat(),
        "param_until": until.isoformat(),
    }
    url = str(client.base_url)
    response = client.post(
        "/",
        params=params,
        content=DOWNLOADS_SQL.encode(),
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    text = response.text
    header_code = response.headers.get("x-clickhouse-exception-code")
    if response.status_code != 200 or header_code:
        error = _exception_in(text)
        first = text.strip().splitlines()[0][:200] if text.strip() else "empty body"
        message = error or (
            "HTML page instead of a ClickHouse answer" if text.lstrip().startswith("<") else first
        )
        cls = ClickHouseError if error or header_code else UpstreamError
        raise cls(message, source=SOURCE, url=url, status=response.status_code)
    return url, text


@register(SOURCE)
class ClickpyCollector:
    """Backfills and then extends daily downloads from ClickPy's ClickHouse, one query a package."""

    name: ClassVar[str] = SOURCE

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self.transport = transport
        self._stopped: SourceUnreachableError | None = None

    def applicable(self, tool: Tool) -> bool:
        """Return True when the tool lists PyPI packages."""
        return bool(tool.pypi)

    def _one(self, ctx: CollectContext, client: httpx.Client, tool: Tool) -> ToolOutcome:
        records: list[DownloadRecord] = []
        errors: list[str] = []
        today = ctx.now().date()
        backfilled = 0
        for raw in tool.pypi:
            package = normalize(raw)
            # one endpoint for every package: the package's own query names it
            own_url = f"{str(client.base_url).rstrip('/')}/?param_name={package}"
            if ctx.stop_requested():
                errors.append(f"{package}: not collected (stop requested)")
                continue
            if self._stopped is not None:
                errors.append(self._stopped.for_url(own_url).not_collected)
                continue
            last_day = ctx.state.last_download_day(tool.id, package, SOURCE)
            since, until = query_window(last_day, today)
            try:
                url, body = fetch_daily(
                    client, package, user=ctx.settings.clickhouse_user, since=since, until=until
                )
                rows = parse_daily(body, tool_id=tool.id, package=package, url=url)
            except SourceUnreachableError as exc:
                self._stopped = exc
                errors.append(exc.for_url(own_url, requested=True).not_collected)
                continue
            except TrackerError as exc:
                errors.append(str(exc))
                continue
            if last_day is None:
                backfilled += 1
                if not rows:
                    errors.append(
                        f"{package}: ClickPy has no downloads for this project "
                        "(not on PyPI under this name, or not in the dataset yet)"
                    )
            records.extend(rows)
        if errors and not records:
            return ToolFailure(tool.id, "; ".join(errors))
        return ToolBatch(
            tool_id=tool.id,
            downloads=tuple(records),
            errors=tuple(errors),
            counters=(("packages_backfilled", backfilled),),
        )

    def collect(self, ctx: CollectContext, tools: Sequence[Tool]) -> Iterator[ToolOutcome]:
        """Yield one outcome per tool; queries are serial (a shared public endpoint)."""
        with make_client(
            ctx,
            source=SOURCE,
            base_url=ctx.settings.clickhouse_url,
            transport=self.transport,
            retry_post=True,  # the query is read-only: retrying the POST is safe
        ) as client:
            for tool in tools:
                yield isolate(tool.id, functools.partial(self._one, ctx, client, tool))
