"""Structured logging for the CLI: logfmt (default) or JSON lines on stderr."""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from typing import TextIO

__all__ = [
    "LIBRARY_LOGGERS",
    "JsonFormatter",
    "LibraryFilter",
    "LogfmtFormatter",
    "RunContextFilter",
    "bind_run",
    "quiet_logging",
    "setup_logging",
    "unbind_run",
]

# The libraries tracker calls log a dozen lines per HTTP request at DEBUG (httpcore, hpack) or one
# at INFO (httpx). Their lines below WARNING are dropped unless asked for (``--log-libraries``):
# ``--log-level debug`` then shows tracker's own line per request, not the libraries' internals.
LIBRARY_LOGGERS = (
    "httpx",
    "httpcore",
    "h11",
    "h2",
    "hpack",
    "urllib3",
    "requests",
    "github",
    "apscheduler",
    "asyncio",
    "charset_normalizer",
)

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _ts(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class LogfmtFormatter(logging.Formatter):
    """``ts=... level=info logger=... msg="..." key=value`` lines."""

    @staticmethod
    def _quote(value: object) -> str:
        text = str(value)
        if text and all(c.isalnum() or c in "-_./:@+" for c in text):
            return text
        return json.dumps(text, ensure_ascii=False)

    def format(self, record: logging.LogRecord) -> str:
        parts = {
            "ts": _ts(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_extras(record),
        }
        line = " ".join(f"{k}={self._quote(v)}" for k, v in parts.items())
        if record.exc_info:
            line += " exc=" + self._quote(self.formatException(record.exc_info).splitlines()[-1])
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "ts": _ts(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        doc.update(
            {
                k: v if isinstance(v, (int, float, bool, type(None))) else str(v)
                for k, v in _extras(record).items()
            }
        )
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


class LibraryFilter(logging.Filter):
    """Drops records below WARNING from loggers outside ``tracker`` (unless ``libraries``)."""

    def __init__(self, libraries: bool = False) -> None:
        super().__init__()
        self.libraries = libraries

    def filter(self, record: logging.LogRecord) -> bool:
        if self.libraries or record.levelno >= logging.WARNING:
            return True
        return record.name == "tracker" or record.name.startswith("tracker.")


_handler: logging.Handler | None = None
_explicit_level = False


def setup_logging(
    level: str = "warning",
    fmt: str = "logfmt",
    stream: TextIO | None = None,
    *,
    libraries: bool = False,
    explicit: bool = False,
) -> None:
    """Configure the root logger once: level name, ``logfmt`` or ``json``, to stderr.

    Lines of the libraries tracker uses (``LIBRARY_LOGGERS`` and any other non-tracker logger)
    are shown only from WARNING up, unless ``libraries``. ``explicit``: the level was asked for
    on the command line, so ``quiet_logging()`` leaves it alone.
    """
    global _handler, _explicit_level
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    handler.addFilter(RunContextFilter())
    handler.addFilter(LibraryFilter(libraries))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in LIBRARY_LOGGERS:  # cheap: their DEBUG/INFO records are not even created
        logging.getLogger(name).setLevel(logging.NOTSET if libraries else logging.WARNING)
    _handler, _explicit_level = handler, explicit


def quiet_logging() -> None:
    """For ``--quiet``: the command prints its own one line per failure, so log lines are
    dropped unless ``--log-level`` was given explicitly."""
    if _handler is not None and not _explicit_level:
        _handler.setLevel(logging.CRITICAL + 1)


# ---- run context: every log line emitted while a run is open carries its run_id ----------------
# Process-wide rather than a contextvar: collectors log from worker threads (thread pools do not
# copy contextvars), and one process runs at most one collect at a time (the writer lock).
_run_lock = threading.Lock()
_run_fields: dict[str, object] = {}


def bind_run(run_id: int, source: str) -> None:
    """Attach ``run_id`` and ``source`` to every log line until ``unbind_run()``."""
    with _run_lock:
        _run_fields.clear()
        _run_fields.update(run_id=run_id, source=source)


def unbind_run() -> None:
    """Stop attaching a run_id to log lines."""
    with _run_lock:
        _run_fields.clear()


class RunContextFilter(logging.Filter):
    """Adds the bound ``run_id`` / ``source`` to records that do not carry their own."""

    def filter(self, record: logging.LogRecord) -> bool:
        with _run_lock:
            fields = dict(_run_fields)
        for key, value in fields.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True
