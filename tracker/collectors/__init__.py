"""Collectors, one module per source, behind a registry (see base.py)."""

from __future__ import annotations

import importlib

from tracker.collectors.base import (
    SOURCES,
    CollectContext,
    Collector,
    get_collector,
    make_client,
    register,
)

__all__ = ["SOURCES", "CollectContext", "Collector", "get_collector", "make_client", "register"]

# One module per source; each registers itself with @register(<source>) on import.
_MODULES = {
    "github": "tracker.collectors.github",
    "pypi": "tracker.collectors.pypi",
    "pypistats": "tracker.collectors.pypistats",
    "clickpy": "tracker.collectors.clickpy",
    "apache": "tracker.collectors.apache",
    "hn": "tracker.collectors.hn",
    "stackoverflow": "tracker.collectors.stackoverflow",
}


def _load_all() -> None:
    for module in _MODULES.values():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
