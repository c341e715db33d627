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

User: ClickPy's README names ``demo`` as the read-only user of this host (its ``.env.example``
moved from ``play`` on another host to ``demo`` here in December 2024; its browser client still
sends ``play``). Without ``TRACKER_CLICKHOUSE_USER`` the collector asks as ``demo``; on an
authentication error (ClickHouse code 516) it tries ``play`` once per run and logs which user
worked. A user set with ``TRACKER_CLICKHOUSE_USER`` is used as given and never swapped: its
authentication error says so.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import date, timedelta
from typing import ClassVar

import httpx

from tracker.catalog import Tool
from tracker.collectors._packages import (
    PackageCollector,
    PackageError,
    PackageResult,
    PackageSource,
    daily_records,
    iso_day,
)
from tracker.collectors.base import CollectContext, register
from tracker.config import DEFAULT_CLICKHOUSE_USER
from tracker.errors import ParseError, UpstreamError
from tracker.records import DownloadRecord

__all__ = [
    "DOWNLOADS_SQL",
    "FALLBACK_USER",
    "ClickHouseError",
    "ClickhouseUsers",
    "ClickpyCollector",
    "collect_daily",
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
FALLBACK_USER = "play"  # tried once per run when the default user is refused
AUTHENTICATION_FAILED = 516  # ClickHouse error code

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

    def __init__(
        self, message: str, *, source: str, url: str, status: int | None, code: int | None = None
    ):
        super().__init__(message, source=source, url=url, status=status)
        self.code = code  # ClickHouse's error code (516: authentication failed), when known


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
    return daily_records(by_day, tool_id=tool_id, package=package, source=SOURCE)


_UINT64 = re.compile(r"[0-9]{1,20}")  # ASCII digits only: str.isdigit() accepts "²"


def _add_row(by_day: dict[date, int], row: dict[str, object], *, number: int, url: str) -> None:
    """Add one parsed row to ``by_day``; 64-bit counts may be JSON strings or numbers."""
    raw_day, raw_count = row.get("date"), row.get("downloads")
    day = iso_day(raw_day)
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
        if not (error or header_code):
            raise UpstreamError(message, source=SOURCE, url=url, status=response.status_code)
        match = _EXCEPTION_RE.search(text)
        code = header_code or (match.group(1) if match else None)
        raise ClickHouseError(
            message,
            source=SOURCE,
            url=url,
            status=response.status_code,
            code=int(code) if code and code.isdigit() else None,
        )
    return url, text


class ClickhouseUsers:
    """The user ClickPy is asked as: ``demo``, then ``play`` once if refused; or the one set."""

    def __init__(self, configured: str | None) -> None:
        self.current = configured or DEFAULT_CLICKHOUSE_USER
        self.explicit = configured is not None
        self._fallback = None if configured else FALLBACK_USER
        self._confirmed = False

    def query(
        self, client: httpx.Client, package: str, since: date, until: date
    ) -> tuple[str, str]:
        """Return (url, body) of ``fetch_daily`` as the current user, switching once on 516."""
        try:
            answer = fetch_daily(client, package, user=self.current, since=since, until=until)
        except ClickHouseError as exc:
            if exc.code != AUTHENTICATION_FAILED:
                raise
            if self._fallback is None:
                raise self._refused(exc) from exc
            refused, self.current, self._fallback = self.current, self._fallback, None
            log.warning("clickpy: user %r refused (code 516); trying %r", refused, self.current)
            answer = fetch_daily(client, package, user=self.current, since=since, until=until)
        if not self._confirmed:
            self._confirmed = True
            log.info("clickpy: querying as user %r", self.current)
        return answer

    def _refused(self, exc: ClickHouseError) -> ClickHouseError:
        if not self.explicit:
            return exc
        hint = "TRACKER_CLICKHOUSE_USER is set, so no other user is tried"
        return ClickHouseError(
            f"{exc.reason} ({hint})", source=SOURCE, url=exc.url, status=exc.status, code=exc.code
        )


def collect_daily(
    ctx: CollectContext,
    client: httpx.Client,
    users: ClickhouseUsers,
    tool: Tool,
    package: str,
    last_day: date | None,
) -> PackageResult:
    """Return one package's daily downloads: a backfill, or the days after ``last_day``."""
    since, until = query_window(last_day, ctx.now().date())
    url, body = users.query(client, package, since, until)
    rows = parse_daily(body, tool_id=tool.id, package=package, url=url)
    if last_day is None and not rows:
        raise PackageError(
            f"{package}: ClickPy has no downloads for this project "
            "(not on PyPI under this name, or not in the dataset yet)"
        )
    return PackageResult(
        downloads=tuple(rows), counters=(("packages_backfilled", int(last_day is None)),)
    )


@register(SOURCE)
class ClickpyCollector(PackageCollector[date | None]):
    """Backfills and then extends daily downloads from ClickPy's ClickHouse, one query a package."""

    name: ClassVar[str] = SOURCE

    def client(self, ctx: CollectContext) -> httpx.Client:
        """Return the ClickHouse client; the query is read-only, so a POST is retried too."""
        return self.open_client(ctx, ctx.settings.clickhouse_url, retry_post=True)

    def source(self, ctx: CollectContext, client: httpx.Client) -> PackageSource[date | None]:
        """Return the declaration: serial queries (a shared public endpoint), newest stored day."""
        users = ClickhouseUsers(ctx.settings.clickhouse_user)
        # one endpoint for every package: the package's own query names it
        base = str(client.base_url).rstrip("/")
        return PackageSource(
            name=SOURCE,
            url=lambda package: f"{base}/?param_name={package}",
            prepare=lambda tool, package: ctx.state.last_download_day(tool.id, package, SOURCE),
            work=lambda tool, package, last_day: collect_daily(
                ctx, client, users, tool, package, last_day
            ),
            counters=("packages_backfilled",),
        )
