"""The catalog of tracked tools: bundled YAML, user overrides, validation."""

from __future__ import annotations

from tracker.catalog._loader import (
    BUNDLED_CATALOG,
    MAX_ERRORS,
    Catalog,
    Tool,
    load_catalog,
    parse_catalog_file,
)

__all__ = ["BUNDLED_CATALOG", "MAX_ERRORS", "Catalog", "Tool", "load_catalog", "parse_catalog_file"]
