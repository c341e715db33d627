"""The three-readings rule: a metric's label from its plain, typical-period and relative change.

Pure: reads `MetricRow`s (the `metric_stats` query), returns `MetricTrend`s. Every threshold is
in `thresholds.py` and documented in docs/report.md.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

from tracker.reports.model import MetricTrend
from tracker.reports.rows import MetricRow
from tracker.reports.thresholds import (
    FALL,
    LOW_CONFIDENCE,
    METRIC_WORDS,
    MIN_BASELINE_TOOLS,
    MIN_KNOWN,
    MIN_VOLUME,
    MIN_Z,
    RATIO_CAP,
    RISE,
    SPIKE_FACTOR,
    STEP_MIN_LEVEL,
)

__all__ = ["is_judged", "judge", "metric_trend", "pct", "ratio", "rounded"]


def rounded(x: Any, nd: int = 4) -> Any:
    """``x`` as trends.json shows it: floats rounded (None if not finite), dates ISO text."""
    if isinstance(x, float):
        return round(x, nd) if math.isfinite(x) else None
    if isinstance(x, date | datetime):
        return x.isoformat()
    return x


def ratio(later: float | None, earlier: float | None) -> float | None:
    """``later / earlier``, capped at RATIO_CAP (growth from 0 reads as the cap)."""
    if later is None or earlier is None:
        return None
    if earlier <= 0:
        return None if later <= 0 else RATIO_CAP
    return min(max(later, 0.0) / earlier, RATIO_CAP)


def pct(f: float | None) -> str:
    """A ratio as a signed percent change ("+25 %"), "n/a" when unknown."""
    if f is None or not math.isfinite(f):
        return "n/a"
    return f"{(f - 1.0) * 100.0:+.0f} %"


def _stable_why(r: float, rm: float | None, rr: float | None) -> list[str]:
    """Why the readings of a stable label disagree (clauses)."""
    why: list[str] = []
    plain_up, plain_down = r >= RISE["r"], r <= FALL["r"]
    if rr is not None:
        rel_up, rel_down = rr >= RISE["rr"], rr <= FALL["rr"]
        if plain_up and not rel_up:
            why.append("in line with the median tool, which grew as much: the market moved")
        elif plain_down and not rel_down:
            why.append("in line with the median tool, which fell as much: the market moved")
        elif rel_up and not plain_up:
            why.append(
                "flat or slower in plain figures, but holding up better than the median tool"
            )
        elif rel_down and not plain_down:
            why.append("flat or growing in plain figures, but behind the median tool")
    if (plain_up or plain_down) and rm is not None:
        typical_up, typical_down = rm >= RISE["rm"], rm <= FALL["rm"]
        if plain_up and not typical_up:
            why.append("the typical period did not rise with it: a few strong periods (a spike)")
        elif plain_down and not typical_down:
            why.append("the typical period did not fall with it: a few weak or unusual periods")
    if rm is None:
        why.append("the typical period is zero in both years")
    if not why:
        why.append("no clear change")
    return why


def judge(
    r: float | None, rm: float | None, rr: float | None, z: float | None
) -> tuple[str, list[str]]:
    """Return the label the three readings support and, for stable, why (clauses).

    rising / declining need every reading past its margin (``rr`` None: no baseline, two
    readings) and, for count metrics (``z`` not None), a change that stands out of noise.
    """
    readings = {"r": r, "rm": rm, "rr": rr}
    known = {k: v for k, v in readings.items() if v is not None}
    if r is None:
        return "insufficient data", []
    up = all(v >= RISE[k] for k, v in known.items()) and rm is not None
    down = all(v <= FALL[k] for k, v in known.items()) and rm is not None
    if (up or down) and (z is None or abs(z) >= MIN_Z):
        return ("rising" if up else "declining"), []
    if up or down:
        return "stable", ["on small numbers the change does not stand out of the noise"]
    return "stable", _stable_why(r, rm, rr)


def _count_z(metric: str, row: MetricRow) -> float | None:
    """Poisson z of the rate change for count metrics (stars, releases); None for downloads."""
    if metric == "downloads":
        return None
    e = max(float(row.earlier_total or 0.0), 0.0)
    lt = max(float(row.later_total or 0.0), 0.0)
    ek, lk = float(row.earlier_known or 0), float(row.later_known or 0)
    if ek <= 0 or lk <= 0:
        return None
    rate_ratio = ((lt + 0.5) / lk) / ((e + 0.5) / ek)
    return math.log(rate_ratio) / math.sqrt(1.0 / (lt + 0.5) + 1.0 / (e + 0.5))


def _readings(row: MetricRow) -> tuple[float | None, float | None, float | None, float | None]:
    """(r, rm, rr, baseline r) of a row; rr only with a baseline of enough tools."""
    r = ratio(row.r, 1.0) if row.r is not None else None
    rm = ratio(row.later_median, row.earlier_median)
    base_r = float(row.baseline_r) if row.baseline_r is not None else None
    use_base = base_r and int(row.baseline_tools) >= MIN_BASELINE_TOOLS
    rr = r / base_r if r is not None and base_r and use_base else None
    return r, rm, rr, base_r


def _inputs(metric: str, row: MetricRow) -> dict[str, Any]:
    """The evidence trends.json shows for a (tool, metric): every input of its label."""
    end = row.window_end
    r, rm, rr, base_r = _readings(row)
    inputs: dict[str, Any] = {
        "window_end": rounded(end),
        "later_year": f"{rounded(end - timedelta(days=365))} .. {rounded(end)}" if end else None,
        "earlier_year": f"{rounded(end - timedelta(days=730))} .. "
        f"{rounded(end - timedelta(days=365))}"
        if end
        else None,
        "period": "quarter" if metric == "releases" else "month",
        "sub_windows_per_year": int(row.subs_per_year),
        "earlier_per_year": rounded(row.earlier_volume, 1),
        "later_per_year": rounded(row.later_volume, 1),
        "earlier_known_days": int(row.earlier_known or 0),
        "later_known_days": int(row.later_known or 0),
        "earlier_typical_per_day": rounded(row.earlier_median, 4),
        "later_typical_per_day": rounded(row.later_median, 4),
        "r": rounded(r),
        "rm": rounded(rm),
        "rr": rounded(rr),
        "baseline_r": rounded(base_r),
        "baseline_tools": int(row.baseline_tools),
        "z_counts": rounded(_count_z(metric, row), 2),
        "first_period": rounded(row.first_period),
        "step_period": rounded(row.step_period),
        "step_ratio": rounded(row.step_ratio),
        "spike_period": None,
        "spike_ratio": None,
        "estimate_periods": int(row.estimate_periods or 0),
        "gap_periods": int(row.gap_periods or 0),
        "sql": "metric_stats",
    }
    med, mx = row.median_value, row.max_value
    if (
        metric != "releases"
        and mx is not None
        and med is not None
        and mx >= STEP_MIN_LEVEL
        and mx > SPIKE_FACTOR * max(med, 1.0)
    ):
        inputs["spike_period"] = rounded(row.max_period)
        inputs["spike_ratio"] = rounded(mx / max(med, 1.0), 2)
    return inputs


def _insufficient(metric: str, row: MetricRow) -> str | None:
    """Why ``metric`` cannot be judged (None: it can)."""
    k = int(row.subs_per_year)
    unit = "quarters" if metric == "releases" else "months"
    e_len, l_len = float(row.earlier_length or 365), float(row.later_length or 365)
    e_known, l_known = float(row.earlier_known or 0), float(row.later_known or 0)
    if e_known < MIN_KNOWN * e_len:
        first = row.first_period
        since = f" (data since {first:%Y-%m})" if first else ""
        return f"too new to compare: the earlier year is known on {e_known:.0f} of 365 days{since}"
    if l_known < MIN_KNOWN * l_len:
        return f"the later year is known on only {l_known:.0f} of 365 days: collection stopped?"
    need = math.ceil(k * MIN_KNOWN)
    if int(row.earlier_subs or 0) < need or int(row.later_subs or 0) < need:
        return f"fewer than {need} of {k} {unit} in a year have enough data"
    vol = float(row.earlier_volume or 0.0)
    if vol < MIN_VOLUME[metric]:
        return (
            f"too little activity: {vol:.0f} a year in the earlier year "
            f"(needs {MIN_VOLUME[metric]:.0f})"
        )
    return None


def is_judged(row: MetricRow) -> bool:
    """Whether the row's metric gets a label other than "insufficient data"."""
    return _insufficient(row.metric, row) is None and row.r is not None


def _reason(metric: str, row: MetricRow, label: str, clauses: list[str]) -> str:
    """The one-line evidence of a judged label."""
    unit = "quarter" if metric == "releases" else "month"
    r, rm, rr, _ = _readings(row)
    reason = f"{METRIC_WORDS[metric]} {pct(r)} year on year"
    if rr is not None:
        reason += f", {pct(rr)} vs the median tool"
    else:
        reason += f" (no baseline: fewer than {MIN_BASELINE_TOOLS} tools can be judged)"
    if label == "rising":
        reason += f"; the typical {unit} rose too ({pct(rm)})"
    elif label == "declining":
        reason += f"; the typical {unit} fell too ({pct(rm)})"
    else:
        reason += f"; the typical {unit} {pct(rm)}: " + "; ".join(clauses)
    if row.step_period is not None:
        reason += (
            f"; level shift x{row.step_ratio:.2g} in {row.step_period:%Y-%m} "
            "(kept: a tool's own shift is news)"
        )
    if metric in LOW_CONFIDENCE and label != "stable":
        reason += "; low confidence: release cadence shows maintenance, not use"
    return reason


def metric_trend(row: MetricRow) -> MetricTrend:
    """The label of one (tool, metric), its reason and its inputs."""
    metric = row.metric
    inputs = _inputs(metric, row)
    confidence = "low" if metric in LOW_CONFIDENCE else "normal"
    why = _insufficient(metric, row)
    if why:
        return MetricTrend(metric, "insufficient data", why, inputs, confidence)
    r, rm, rr, _ = _readings(row)
    label, clauses = judge(r, rm, rr, _count_z(metric, row))
    return MetricTrend(metric, label, _reason(metric, row, label, clauses), inputs, confidence)
