"""Hypothesis settings, strategies and checks shared by the parser property tests.

Every upstream parser gives records (or nothing) or a TrackerError, never a crash: each
module's tests feed it arbitrary JSON (or text) and payload-shaped input; inputs that crashed a
parser (bugs 6-10 of docs/reliability.md, fixed) are pinned by edge tests beside them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tracker.errors import TrackerError

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def json_values_of(ints: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    """Return arbitrary JSON-like values (nested lists/dicts of scalars) with ``ints`` as integers."""
    scalars = st.none() | st.booleans() | ints | st.floats() | st.text(max_size=20)
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=10), children, max_size=4)
        ),
        max_leaves=20,
    )


ANY_URL = "https://upstream.test/x"
T = TypeVar("T")

# integers within the 64-bit range (huge ones are pinned in the edge tests)
ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
json_values = json_values_of(ints)
days = st.one_of(
    st.dates().map(date.isoformat),
    st.sampled_from(["2024-02-30", "", "2024-1-1", "20240101"]),
    json_values,
)


def parse_outcome(call: Callable[[], T]) -> T | TrackerError:
    """Return the parser's result, or the TrackerError it raised (one line, not empty)."""
    try:
        return call()
    except TrackerError as exc:
        text = str(exc)
        assert text and "\n" not in text, repr(text)
        return exc


def crashes_cleanly(call: Callable[[], object]) -> None:
    parse_outcome(call)  # a non-TrackerError exception fails the test
