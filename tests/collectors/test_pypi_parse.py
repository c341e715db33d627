"""tracker/collectors/_pypi_parse.py: the fast path for plain versions agrees with packaging."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from packaging.version import InvalidVersion, Version

from tracker.collectors._pypi_parse import _kind


def _packaging(version: str) -> tuple[bool, bool]:
    try:
        return Version(version).is_prerelease, True
    except (InvalidVersion, ValueError):
        return False, False


@given(
    st.one_of(
        st.lists(st.integers(0, 10**12), min_size=1, max_size=5).map(
            lambda parts: ".".join(map(str, parts))
        ),
        st.from_regex(
            r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}(a|b|rc|\.dev|\.post|-)?[0-9]{0,2}", fullmatch=True
        ),
        st.text(max_size=12),
    )
)
def test_kind_agrees_with_packaging(version: str) -> None:
    assert _kind(version) == _packaging(version)


def test_kind_of_known_versions() -> None:
    assert _kind("2.10.3") == (False, True)
    assert _kind("007") == (False, True)
    assert _kind("1.0rc1") == (True, True)
    assert _kind("1!2.0.dev3") == (True, True)
    assert _kind("not a version") == (False, False)
    assert _kind("1" * 5000) == (False, False)  # beyond int()'s digit limit
