"""Exception tree of tracker.

TrackerError                 base; its str() is one line fit for a user
+-- ConfigError              bad flag, env var or setting (exit 2)
+-- CatalogError             catalog file problem, with file, line and field (exit 2)
|   +-- CatalogErrors        every problem of a file, in line order
+-- WarehouseError           unusable DuckDB file, failed migration (exit 2)
|   +-- LockHeldError        another tracker process is writing the same DB
+-- UpstreamError            an upstream HTTP API failed, with source, url and status
|   +-- SourceUnreachableError   the host could not be reached at all
|   +-- RateLimitedError     the upstream budget is exhausted until reset_at
+-- ParseError               an upstream payload lacks a required field
"""

from __future__ import annotations

from datetime import datetime

__all__ = [
    "CatalogError",
    "CatalogErrors",
    "ConfigError",
    "LockHeldError",
    "ParseError",
    "RateLimitedError",
    "SourceUnreachableError",
    "TrackerError",
    "UpstreamError",
    "WarehouseError",
]


class TrackerError(Exception):
    """Base class; ``str(err)`` is a one-line message for the user."""


class ConfigError(TrackerError):
    """A setting, flag or environment variable is wrong."""


class CatalogError(TrackerError):
    """A catalog file is wrong; names the file, line and field."""

    def __init__(
        self, message: str, *, file: str, line: int | None = None, field: str | None = None
    ):
        self.file = file
        self.line = line
        self.field = field
        self.reason = message
        where = file if line is None else f"{file}:{line}"
        what = f" field '{field}':" if field else ""
        super().__init__(f"{where}:{what} {message}")


class CatalogErrors(CatalogError):
    """Several catalog errors, in file order; ``str()`` is the first one and how many follow."""

    def __init__(self, errors: list[CatalogError]):
        self.errors = errors
        first = errors[0]
        super().__init__(first.reason, file=first.file, line=first.line, field=first.field)
        if len(errors) > 1:
            more = len(errors) - 1
            self.args = (
                f"{self.args[0]} (and {more} more error{'s' if more > 1 else ''}: "
                f"`tracker catalog validate {first.file}` lists them)",
            )


class WarehouseError(TrackerError):
    """The DuckDB file cannot be used."""


class LockHeldError(WarehouseError):
    """Another tracker process holds the writer lock."""


class UpstreamError(TrackerError):
    """An upstream API call failed."""

    def __init__(self, message: str, *, source: str, url: str, status: int | None = None):
        self.source = source
        self.url = url
        self.status = status
        self.reason = message
        status_txt = f"HTTP {status}" if status is not None else "no response"
        super().__init__(f"{source}: {status_txt} from {url}: {message}")


class SourceUnreachableError(UpstreamError):
    """The upstream host cannot be reached (DNS, connection refused, timeouts).

    One wording for every source, naming the URL of the tool it is reported for:
    ``<source> unreachable (<cause>): <url>``; ``requested=False`` when that URL was not asked
    for because an earlier request of the same source could not connect. A tool's error is
    ``not collected: `` + this text (``not_collected``).
    """

    def __init__(self, cause: str, *, source: str, url: str, requested: bool = True):
        self.source = source
        self.url = url
        self.status = None
        self.cause = cause
        self.requested = requested
        self.reason = cause if requested else f"{cause}; not tried after the first failure"
        TrackerError.__init__(self, f"{source} unreachable ({self.reason}): {url}")

    def for_url(self, url: str, *, requested: bool = False) -> SourceUnreachableError:
        """Return the same failure reported for another URL (by default: one not asked for)."""
        return SourceUnreachableError(self.cause, source=self.source, url=url, requested=requested)

    @property
    def not_collected(self) -> str:
        """Return the error line of a tool that was not collected because of this failure."""
        return f"not collected: {self}"


class RateLimitedError(UpstreamError):
    """The upstream request budget is exhausted until ``reset_at`` (UTC)."""

    def __init__(
        self,
        message: str,
        *,
        source: str,
        url: str,
        status: int | None = None,
        reset_at: datetime | None = None,
    ):
        self.reset_at = reset_at
        super().__init__(message, source=source, url=url, status=status)


class ParseError(TrackerError):
    """An upstream payload could not be parsed; names the source and field."""

    def __init__(self, message: str, *, source: str, field: str, url: str | None = None):
        self.source = source
        self.field = field
        self.url = url
        where = f" ({url})" if url else ""
        super().__init__(f"{source}: bad field '{field}'{where}: {message}")
