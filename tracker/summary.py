"""What a collect reports: progress events, and the outcome of each source and of the whole run."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CollectSummary", "ProgressHook", "SourceSummary"]


class ProgressHook:
    """Receives progress events; the CLI draws them with rich on a terminal."""

    def source_started(self, source: str, total: int) -> None:
        """A source starts with ``total`` tools."""

    def tool_done(self, source: str, tool_id: str, ok: bool) -> None:
        """One tool of a source is done."""

    def source_finished(self, summary: SourceSummary) -> None:
        """A source is done."""


@dataclass(slots=True)
class SourceSummary:
    """Outcome of one source in one collect."""

    source: str
    run_id: int | None = None
    status: str = "ok"  # ok | partial | failed | skipped | interrupted
    tools_ok: int = 0
    tools_failed: int = 0
    requests: int = 0
    rows_written: int = 0
    seconds: float = 0.0
    errors: list[tuple[str | None, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    note: str | None = None

    def headline(self) -> str:
        """Return one line describing this source's outcome."""
        if self.status == "skipped":
            return f"{self.source}: skipped ({self.note})"
        base = (
            f"{self.source}: {self.status}, {_n(self.tools_ok, 'tool')} stored, "
            f"{self.tools_failed} failed, {_n(self.rows_written, 'row')}, "
            f"{_n(self.requests, 'request')}, {self.seconds:.1f}s"
        )
        if self.errors:
            kinds = Counter(_error_kind(e) for _, e in self.errors)
            kind, count = kinds.most_common(1)[0]
            if count == 1:  # one error of its kind: show it whole, URL path included
                kind = next(e for _, e in self.errors if _error_kind(e) == kind)
                kind = kind.splitlines()[0][:300]
                base += f"; error: {kind}"
            else:
                base += f"; error ({count} tools): {kind}"
        return base

    def as_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "source": self.source,
            "run_id": self.run_id,
            "status": self.status,
            "tools_ok": self.tools_ok,
            "tools_failed": self.tools_failed,
            "requests": self.requests,
            "rows_written": self.rows_written,
            "seconds": round(self.seconds, 3),
            "note": self.note,
            "counters": self.counters,
            "errors": [{"tool_id": t, "error": e} for t, e in self.errors],
            "warnings": [{"tool_id": t, "warning": w} for t, w in self.warnings],
        }


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


_URL_PATH = re.compile(r"(https?://[^/\s]+)[^\s;,)]*")
_SKIPPED_NOTE = "; not tried after the first failure"


def _error_kind(error: str) -> str:
    # the first error line without URL paths (each tool names its own URL) and shortened:
    # the same failure of many tools counts as one kind in the one-line summary
    first = error.splitlines()[0].replace(_SKIPPED_NOTE, "")
    first = re.split(r"; (?=not (?:fully )?collected)", first)[0]  # a tool's first package
    return _URL_PATH.sub(r"\1/…", first)[:300]


@dataclass(slots=True)
class CollectSummary:
    """Outcome of one `tracker collect`."""

    db_path: str
    sources: list[SourceSummary] = field(default_factory=list)
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        """Return 0 when everything was stored, 1 when something failed."""
        bad = {"partial", "failed", "interrupted"}
        return 1 if self.interrupted or any(s.status in bad for s in self.sources) else 0

    def as_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "db": self.db_path,
            "exit_code": self.exit_code,
            "interrupted": self.interrupted,
            "sources": [s.as_json() for s in self.sources],
        }
