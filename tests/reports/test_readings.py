"""The three-readings rule on hand-built `metric_stats` rows (no database)."""

from __future__ import annotations

from datetime import date

from tests.reports.factory import growing, metric
from tracker.reports.readings import is_judged, metric_trend, pct, ratio


def test_all_three_readings_up_is_rising_and_the_reason_shows_them() -> None:
    mt = metric_trend(growing("t", 2.0))
    assert mt.label == "rising"
    assert mt.reason == (
        "downloads +100 % year on year, +100 % vs the median tool; the typical month rose too "
        "(+100 %)"
    )
    assert (mt.inputs["r"], mt.inputs["rm"], mt.inputs["rr"]) == (2.0, 2.0, 2.0)
    assert mt.inputs["later_year"] == "2024-06-15 .. 2025-06-15"
    assert mt.confidence == "normal"


def test_the_market_moved_as_much_reads_stable() -> None:
    mt = metric_trend(growing("t", 1.5, baseline_r=1.5))
    assert mt.label == "stable"
    assert "in line with the median tool, which grew as much" in mt.reason


def test_no_baseline_with_too_few_judged_tools() -> None:
    mt = metric_trend(growing("t", 2.0, baseline_tools=4))
    assert mt.inputs["rr"] is None
    assert "(no baseline: fewer than 5 tools can be judged)" in mt.reason


def test_insufficient_data_says_why() -> None:
    new = metric(earlier_known=30, first_period=date(2024, 5, 1))
    assert metric_trend(new).label == "insufficient data"
    assert metric_trend(new).reason == (
        "too new to compare: the earlier year is known on 30 of 365 days (data since 2024-05)"
    )
    small = metric(earlier_volume=100.0)
    assert metric_trend(small).reason.startswith("too little activity: 100 a year")
    assert not is_judged(new) and not is_judged(small) and is_judged(metric())
    assert not is_judged(metric(r=None))


def test_releases_are_low_confidence_and_a_step_is_kept_in_the_reason() -> None:
    rel = metric_trend(
        growing("t", 3.0, metric="releases", subs_per_year=4, earlier_volume=12.0,
                earlier_total=12.0, later_total=36.0)
    )  # fmt: skip
    assert rel.confidence == "low"
    assert rel.reason.endswith("low confidence: release cadence shows maintenance, not use")
    step = metric_trend(growing("t", 2.8, step_period=date(2024, 6, 1), step_ratio=2.8))
    assert "level shift x2.8 in 2024-06 (kept: a tool's own shift is news)" in step.reason


def test_a_spike_is_an_input_not_a_trend() -> None:
    mt = metric_trend(metric(max_value=80_000.0, median_value=8_000.0, max_period=date(2025, 3, 1)))
    assert mt.inputs["spike_period"] == "2025-03-01"
    assert mt.inputs["spike_ratio"] == 10.0


def test_ratio_caps_growth_from_zero_and_pct_formats() -> None:
    assert ratio(5.0, 0.0) == 100.0
    assert ratio(0.0, 0.0) is None
    assert ratio(None, 1.0) is None
    assert pct(1.25) == "+25 %" and pct(None) == "n/a"
