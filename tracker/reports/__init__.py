"""Trend analytics and report rendering (HTML, Markdown, JSON)."""

from __future__ import annotations

from tracker.reports.render import ReportResult, write_report

__all__ = ["ReportResult", "write_report"]
