"""The rows `tool_labels` / `skill_labels` store, from a hand-built analysis (no database)."""

from __future__ import annotations

from datetime import date

from tests.reports.factory import growing, metric, report_data, skill_reading, tool
from tracker.reports.analytics import analyse
from tracker.reports.label_rows import label_rows


def test_a_row_per_metric_then_the_headline() -> None:
    metrics = (growing("a", 2.0), metric(tool_id="b"))
    tools = (tool("a"), tool("b"), tool("fb", trackable=False))
    data = report_data(
        metrics, tools, skill_readings=(skill_reading("downloads", 2, 200_000.0, 300_000.0),)
    )
    tool_rows, skill_rows = label_rows(analyse(data, data.as_of))
    assert [(r["tool_id"], r["metric"], r["label"]) for r in tool_rows] == [
        ("a", "downloads", "rising"),
        ("a", "headline", "rising"),
        ("b", "downloads", "stable"),
        ("b", "headline", "stable"),
    ]  # the untracked tool without data has no row
    head = tool_rows[1]
    assert head["driver"] == "downloads" and head["window_end"] == date(2025, 6, 15)
    assert (head["r"], head["rr"]) == (2.0, 2.0)
    assert [(r["skill"], r["metric"], r["driver"]) for r in skill_rows] == [
        ("orchestration", "downloads", None),
        ("orchestration", "headline", "downloads"),
    ]
    assert skill_rows[1]["tools_judged"] == 2 and skill_rows[1]["reason"].startswith(
        "downloads per month: +50 % year on year"
    )
