"""Hypothesis settings and JSON-value strategies shared by the parser property tests."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

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
