"""SIGINT/SIGTERM handling: ask the running collect to stop after the current tool."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["StopFlag"]

log = logging.getLogger(__name__)


class StopFlag:
    """Set by SIGINT/SIGTERM; a second signal stops at once (KeyboardInterrupt)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def is_set(self) -> bool:
        """Return True once a stop was requested."""
        return self._event.is_set()

    def set(self) -> None:
        """Request a stop."""
        self._event.set()

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self._event.is_set():
            raise KeyboardInterrupt
        log.warning(
            "stop requested by signal; finishing the current tool",
            extra={"signal": signal.Signals(signum).name},
        )
        self._event.set()

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopFlag]:
        """Install the handlers for the duration of the block (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for s in old:
            signal.signal(s, self._handler)
        try:
            yield self
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
