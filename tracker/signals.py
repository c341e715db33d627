"""SIGINT/SIGTERM handling: the first signal asks the running collect to stop after the current
tool; a second one stops at once.

The second signal never unwinds the stack (that would wait for worker threads and HTTP requests
in flight, and print a traceback from wherever the main thread was): it runs the registered
``on_force_stop`` callbacks (the runner marks its open run ``interrupted``), prints one line and
ends the process with exit code 130. The half-written tool's transaction is never committed.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import NoReturn

__all__ = ["FORCE_EXIT_CODE", "StopFlag", "add_force_stop", "force_stop", "on_force_stop"]

log = logging.getLogger(__name__)

FORCE_EXIT_CODE = 130  # 128 + SIGINT, what a shell reports for a Ctrl-C'd command

_cleanups: list[Callable[[], None]] = []
_cleanups_lock = threading.Lock()


def add_force_stop(callback: Callable[[], None]) -> Callable[[], None]:
    """Run ``callback`` if a second signal stops the process; return the function that
    unregisters it (call it once the state the callback repairs is gone)."""
    with _cleanups_lock:
        _cleanups.append(callback)

    def remove() -> None:
        with _cleanups_lock:
            if callback in _cleanups:
                _cleanups.remove(callback)

    return remove


@contextlib.contextmanager
def on_force_stop(callback: Callable[[], None]) -> Iterator[None]:
    """Run ``callback`` if a second signal stops the process inside this block."""
    remove = add_force_stop(callback)
    try:
        yield
    finally:
        remove()


def force_stop(signum: int) -> NoReturn:
    """Stop now: run the cleanups (errors ignored), print one line, exit 130 without unwinding."""
    with _cleanups_lock:
        callbacks = list(reversed(_cleanups))
    for callback in callbacks:
        with contextlib.suppress(BaseException):
            callback()
    name = signal.Signals(signum).name
    what = (
        "the run is marked interrupted and the tool in progress was not stored"
        if callbacks
        else "nothing was being written"
    )
    for stream in (sys.stdout, sys.stderr):  # what the command printed so far
        with contextlib.suppress(BaseException):
            stream.flush()
    with contextlib.suppress(OSError):  # a raw write: the handler may interrupt a print
        os.write(2, f"tracker: second {name}: stopped at once; {what}\n".encode())
    os._exit(FORCE_EXIT_CODE)


def _log_stop(reason: str) -> None:
    log.warning("stop requested by signal; finishing the current tool", extra={"signal": reason})


class StopFlag:
    """Set by SIGINT/SIGTERM (the one signal handling of `collect` and `schedule`).

    The first signal sets the flag and calls ``on_signal`` with the signal's name (default: log
    that the current tool is being finished); a second one, or a signal once the flag was set
    some other way, stops at once (``force_stop``).
    """

    def __init__(self, on_signal: Callable[[str], None] = _log_stop) -> None:
        self._event = threading.Event()
        self._on_signal = on_signal
        # signals received: next() is atomic, so a second signal that arrives while the first
        # one's handler still runs (Python nests handlers) is still counted as the second
        self._signals = itertools.count()

    def is_set(self) -> bool:
        """Return True once a stop was requested."""
        return self._event.is_set()

    def set(self) -> None:
        """Request a stop."""
        self._event.set()

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if next(self._signals) > 0 or self._event.is_set():
            force_stop(signum)
        self._event.set()
        self._on_signal(signal.Signals(signum).name)

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
