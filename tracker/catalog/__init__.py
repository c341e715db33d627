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
from tracker.catalog.job_matcher import JobMatcher, html_to_text
from tracker.catalog.job_terms import JobTerms, JobTermsError

__all__ = [
    "BUNDLED_CATALOG",
    "MAX_ERRORS",
    "Catalog",
    "JobMatcher",
    "JobTerms",
    "JobTermsError",
    "Tool",
    "html_to_text",
    "load_catalog",
    "parse_catalog_file",
]
