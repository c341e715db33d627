"""The download-count emulators: pypistats, ClickHouse HTTP (ClickPy), the Apache archive."""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from fakes.core import Request, Response
from fakes.pypi import PypiEmulator

# ---- pypistats -------------------------------------------------------------------------------


class PypistatsEmulator:
    """``/api/packages/<name>/recent`` and ``/overall`` with a per-minute budget (429 + HTML)."""

    def __init__(self) -> None:
        self.downloads: dict[str, dict[date, int]] = {}  # without mirrors
        self.mirror_extra = 7  # with_mirrors = without + this, per day
        self.per_minute: int | None = None  # None: no limit
        self._hits: list[float] = []
        self._lock = threading.Lock()

    def add_package(self, name: str, daily: Mapping[date, int]) -> None:
        """Add package ``name`` with daily downloads (without mirrors)."""
        self.downloads[PypiEmulator.normalize(name)] = dict(daily)

    def handle(self, req: Request) -> Response:
        if self.per_minute is not None:
            with self._lock:
                now = time.monotonic()
                self._hits = [t for t in self._hits if now - t < 60.0]
                if len(self._hits) >= self.per_minute:
                    return Response.text(
                        "<html><head><title>429 Too Many Requests</title></head><body>"
                        "<h1>Too Many Requests</h1><p>Please slow down.</p></body></html>",
                        429,
                        "text/html",
                    )
                self._hits.append(now)
        match = re.fullmatch(r"/api/packages/([^/]+)/(recent|overall)/?", req.path)
        if req.method != "GET" or not match:
            return Response.text("<h1>Not Found</h1>", 404, "text/html")
        name, kind = PypiEmulator.normalize(match.group(1)), match.group(2)
        if name not in self.downloads:
            return Response.text("<h1>Not Found</h1>", 404, "text/html")
        days = sorted(self.downloads[name].items())
        if kind == "recent":
            last = days[-1][0] if days else None

            def window(n: int) -> int:
                if last is None:
                    return 0
                return sum(v for d, v in days if (last - d).days < n)

            return Response.json(
                {
                    "data": {
                        "last_day": window(1),
                        "last_week": window(7),
                        "last_month": window(30),
                    },
                    "package": name,
                    "type": "recent_downloads",
                }
            )
        mirrors = req.arg("mirrors")
        rows: list[dict[str, object]] = []
        if mirrors in (None, "false"):
            rows += [
                {"category": "without_mirrors", "date": d.isoformat(), "downloads": v}
                for d, v in days
            ]
        if mirrors in (None, "true"):
            rows += [
                {
                    "category": "with_mirrors",
                    "date": d.isoformat(),
                    "downloads": v + self.mirror_extra,
                }
                for d, v in days
            ]
        return Response.json({"data": rows, "package": name, "type": "overall_downloads"})


# ---- ClickHouse HTTP (ClickPy) ---------------------------------------------------------------


class ClickhouseEmulator:
    """ClickHouse's HTTP interface for ``pypi.pypi_downloads_per_day`` (JSONEachRow or TSV)."""

    TABLE = "pypi.pypi_downloads_per_day"

    def __init__(self) -> None:
        self.downloads: dict[str, dict[date, int]] = {}
        self.users = {"play", "demo", "default"}
        # after this many rows of a 200 answer, write a ClickHouse exception and stop (None: off)
        self.error_after_rows: int | None = None
        self.error_projects: set[str] | None = None  # None: error_after_rows hits every project
        self.queries: list[str] = []

    def add_project(self, name: str, daily: Mapping[date, int]) -> None:
        """Add project ``name`` (stored as given: ClickPy keys on the normalised name)."""
        self.downloads[name] = dict(daily)

    @staticmethod
    def _exception(code: int, name: str, text: str) -> str:
        return f"Code: {code}. DB::Exception: {text}. ({name}) (version 25.8.1.1)\n"

    def handle(self, req: Request) -> Response:
        if req.method == "POST":
            sql = req.body.decode("utf-8", "replace")
            if req.arg("query"):
                sql = (req.arg("query") or "") + "\n" + sql
        elif req.method == "GET":
            sql = req.arg("query") or ""
        else:
            return Response.text("Code: 0. DB::Exception: method not allowed", 405)
        self.queries.append(sql)
        user = req.arg("user") or req.headers.get("x-clickhouse-user") or "default"
        if user not in self.users:
            refused = Response.text(
                self._exception(516, "AUTHENTICATION_FAILED", f"{user}: Authentication failed"),
                403,
            )
            refused.headers["X-ClickHouse-Exception-Code"] = "516"
            return refused
        if not sql.strip():
            return Response.text("Ok.\n")
        if self.TABLE not in sql:
            if re.search(r"\bFROM\s+pypi\.", sql, re.I):
                table = re.search(r"\bFROM\s+(pypi\.\w+)", sql, re.I)
                return Response.text(
                    self._exception(
                        60,
                        "UNKNOWN_TABLE",
                        f"Unknown table expression identifier '{table.group(1) if table else '?'}'",
                    ),
                    404,
                )
            return Response.text(
                self._exception(62, "SYNTAX_ERROR", "Syntax error: the fake knows one query"), 400
            )
        params = {k[len("param_") :]: v[0] for k, v in req.query.items() if k.startswith("param_")}
        project = next((params[k] for k in ("name", "project", "package") if k in params), None)
        if project is None:
            literal = re.search(r"project\s*=\s*'([^']*)'", sql)
            project = literal.group(1) if literal else None
        if project is None:
            return Response.text(
                self._exception(456, "UNKNOWN_QUERY_PARAMETER", "Substitution `name` is not set"),
                400,
            )
        since_text = next((params[k] for k in ("since", "start", "from") if k in params), None)
        strict = bool(re.search(r"date\s*>\s*\{", sql))  # `date > {since:Date}` vs `>=`
        until_text = params.get("until")
        # the count column is named as the SQL aliases it: `sum(count) AS downloads`
        alias = re.search(r"sum\s*\(\s*count\s*\)\s+AS\s+(\w+)", sql, re.I)
        column = alias.group(1) if alias else "count"
        try:
            since = date.fromisoformat(since_text) if since_text else None
        except ValueError:
            return Response.text(
                self._exception(
                    457, "BAD_QUERY_PARAMETER", f"Value {since_text} cannot be parsed as Date"
                ),
                400,
            )
        days = sorted(self.downloads.get(project, {}).items())
        if since is not None:
            days = [(d, v) for d, v in days if (d > since if strict else d >= since)]
        if until_text and re.search(r"date\s*<\s*\{until", sql):
            until = date.fromisoformat(until_text)
            days = [(d, v) for d, v in days if d < until]
        fmt = re.search(r"FORMAT\s+(\w+)", sql, re.I)
        lines: list[str] = []
        for d, v in days:
            if fmt and fmt.group(1) == "JSONEachRow":
                # 64-bit integers are quoted (output_format_json_quote_64bit_integers=1)
                lines.append(json.dumps({"date": d.isoformat(), column: str(v)}))
            else:
                lines.append(f"{d.isoformat()}\t{v}")
        failing = self.error_projects is None or project in self.error_projects
        if self.error_after_rows is not None and failing:
            body = "\n".join(lines[: self.error_after_rows]) + "\n"
            body += self._exception(
                241, "MEMORY_LIMIT_EXCEEDED", "Memory limit (for query) exceeded"
            )
            return Response(200, body.encode(), {"Content-Type": "application/x-ndjson"})
        body = "".join(line + "\n" for line in lines)
        ctype = "application/x-ndjson" if fmt else "text/tab-separated-values"
        return Response(
            200,
            body.encode(),
            {
                "Content-Type": f"{ctype}; charset=UTF-8",
                "X-ClickHouse-Format": fmt.group(1) if fmt else "TabSeparated",
            },
        )


# ---- Apache archive --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApacheEntry:
    """One line of an autoindex page: a directory (name ends in '/') or a file."""

    name: str
    modified: datetime
    size: str = "-"


class ApacheEmulator:
    """httpd autoindex pages under ``/dist/<project>/`` (HTMLTable with icons, or ``<pre>``)."""

    def __init__(self) -> None:
        self.projects: dict[str, list[ApacheEntry]] = {}
        self.style = "table"  # or "pre"

    def add_project(
        self,
        project: str,
        releases: Mapping[str, datetime],
        files: Mapping[str, datetime] | None = None,
    ) -> None:
        """Add ``project``: release dirs (``'5.2.1'`` or ``'oozie-3.3.2'``) and plain files."""
        entries = [ApacheEntry(name.rstrip("/") + "/", when) for name, when in releases.items()]
        entries += [ApacheEntry(name, when, "14K") for name, when in (files or {}).items()]
        self.projects[project] = sorted(entries, key=lambda e: e.name)

    def handle(self, req: Request) -> Response:
        match = re.fullmatch(r"/dist/([^/]+)(/?)", req.path)
        if req.method not in ("GET", "HEAD") or not match or match.group(1) not in self.projects:
            return Response.text(
                '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>'
                "<title>404 Not Found</title></head><body><h1>Not Found</h1><p>The requested URL "
                "was not found on this server.</p></body></html>\n",
                404,
                "text/html",
            )
        project = match.group(1)
        if not match.group(2):  # httpd adds the slash with a redirect
            return Response(
                301, b"", {"Location": f"{req.base}/dist/{project}/", "Content-Type": "text/html"}
            )
        return Response.text(self.page(project), 200, "text/html")

    def page(self, project: str) -> str:
        """Return the autoindex HTML of ``project``."""
        title = f"Index of /dist/{project}"
        entries = self.projects[project]
        if self.style == "pre":
            rows = [
                '<img src="/icons/back.gif" alt="[PARENTDIR]"> <a href="/dist/">Parent Directory</a>'
                "                             -   "
            ]
            for e in entries:
                icon = "folder" if e.name.endswith("/") else "text"
                rows.append(
                    f'<img src="/icons/{icon}.gif" alt="[{"DIR" if icon == "folder" else "TXT"}]"> '
                    f'<a href="{html.escape(e.name)}">{html.escape(e.name)}</a>'
                    f"{' ' * max(1, 24 - len(e.name))}{e.modified:%Y-%m-%d %H:%M}  {e.size:>4}  "
                )
            body = (
                '<pre><img src="/icons/blank.gif" alt="Icon "> <a href="?C=N;O=D">Name</a>'
                '                    <a href="?C=M;O=A">Last modified</a>      '
                '<a href="?C=S;O=A">Size</a>  <a href="?C=D;O=A">Description</a><hr>'
                + "\n".join(rows)
                + "\n<hr></pre>"
            )
        else:
            rows = [
                '<tr><td valign="top"><img src="/icons/back.gif" alt="[PARENTDIR]"></td>'
                '<td><a href="/dist/">Parent Directory</a></td><td>&nbsp;</td>'
                '<td align="right">  - </td><td>&nbsp;</td></tr>'
            ]
            for e in entries:
                is_dir = e.name.endswith("/")
                icon, alt = ("folder", "[DIR]") if is_dir else ("text", "[TXT]")
                rows.append(
                    f'<tr><td valign="top"><img src="/icons/{icon}.gif" alt="{alt}"></td>'
                    f'<td><a href="{html.escape(e.name)}">{html.escape(e.name)}</a></td>'
                    f'<td align="right">{e.modified:%Y-%m-%d %H:%M}  </td>'
                    f'<td align="right">{e.size:>4} </td><td>&nbsp;</td></tr>'
                )
            body = (
                "<table>\n"
                '   <tr><th valign="top"><img src="/icons/blank.gif" alt="[ICO]"></th>'
                '<th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th>'
                '<th><a href="?C=S;O=A">Size</a></th><th><a href="?C=D;O=A">Description</a></th></tr>\n'
                '   <tr><th colspan="5"><hr></th></tr>\n'
                + "\n".join(rows)
                + '\n   <tr><th colspan="5"><hr></th></tr>\n</table>'
            )
        return (
            '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n<html>\n <head>\n'
            f"  <title>{title}</title>\n </head>\n <body>\n<h1>{title}</h1>\n{body}\n"
            "</body></html>\n"
        )
