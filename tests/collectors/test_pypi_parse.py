"""tracker/collectors/_pypi_parse.py: any payload gives parse_project a PypiProject or a
TrackerError, never a crash; the fast path for plain versions agrees with packaging."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import InvalidVersion, Version

from tests.strategies import FAST, json_values_of
from tracker.collectors._pypi_parse import ProjectDocument, _kind, decode_project
from tracker.collectors.pypi import PypiProject, parse_project
from tracker.errors import ParseError, TrackerError

FIX = Path(__file__).parents[1] / "fixtures" / "pypi"

json_values = json_values_of(st.integers())

# upload times: real ones, near misses and junk (aware times with offsets at the edge of the
# datetime range, a fixed OverflowError, are pinned by test_upload_time_offset_overflow below)
times = st.one_of(
    st.none(),
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.sampled_from(["", "2024-13-01T00:00:00", "yesterday", "2024-02-30", "0000-00-00T00:00"]),
    st.text(max_size=30),
    st.integers(),
)
versions = st.one_of(
    st.from_regex(r"\A[0-9]{1,4}(\.[0-9]{1,4}){0,3}((a|b|rc)[0-9]{1,2})?(\.dev[0-9])?\Z"),
    st.text(max_size=40),
    st.sampled_from(["2004d", "1.0-final", "v1", "\uff11.\uff10", "1.0\x00", "", " "]),
)
files = st.fixed_dictionaries(
    {},
    optional={
        "upload_time": times,
        "upload_time_iso_8601": times,
        "yanked": json_values,
        "yanked_reason": json_values,
        "filename": st.text(max_size=20),
        "packagetype": st.sampled_from(["sdist", "bdist_wheel", ""]),
    },
)
file_lists = st.lists(files | json_values, max_size=3) | json_values
payloads = st.fixed_dictionaries(
    {
        "info": st.fixed_dictionaries({"name": st.text(max_size=30) | json_values}) | json_values,
        "releases": st.dictionaries(versions, file_lists, max_size=6) | json_values,
    }
)


def _check(payload: object) -> None:
    try:
        result = parse_project(payload, tool_id="t", package="p", url="https://pypi.test/x")
    except TrackerError as exc:
        assert str(exc) and "\n" not in str(exc)  # a clear, one-line error
        return
    assert isinstance(result, PypiProject)
    for record in result.releases:
        assert record.released_at is None or record.released_at.tzinfo is not None
        assert isinstance(record.version, str)


@FAST
@given(json_values)
def test_any_json_value_gives_a_record_or_a_clear_error(payload: Any) -> None:
    _check(payload)


@FAST
@given(payloads)
def test_payload_shaped_input_gives_a_record_or_a_clear_error(payload: Any) -> None:
    _check(payload)


@FAST
@given(st.dictionaries(versions, st.lists(files, min_size=1, max_size=3), max_size=8))
def test_well_formed_releases_always_parse(releases: dict[str, list[dict[str, object]]]) -> None:
    payload = {"info": {"name": "Some.Pkg"}, "releases": releases}
    _check(payload)


def _outcome(payload: object) -> object:
    """parse_project's records, or the field and message of its ParseError."""
    try:
        return parse_project(payload, tool_id="t", package="p", url="https://pypi.test/x")
    except ParseError as exc:
        return exc.field, str(exc)


@FAST
@given(payloads | json_values)
def test_decode_project_parses_to_what_the_whole_json_value_does(payload: Any) -> None:
    body = json.dumps(payload).encode()
    assert _outcome(decode_project(body)) == _outcome(json.loads(body))


@pytest.mark.parametrize("name", ["sacred.json", "awkward.json"])
def test_documents_of_the_documented_shape_take_the_fast_path(name: str) -> None:
    body = (FIX / name).read_bytes()
    decoded = decode_project(body)
    assert isinstance(decoded, ProjectDocument)  # only the fields releases are made of
    assert _outcome(decoded) == _outcome(json.loads(body))


@pytest.mark.parametrize(
    "body",
    [
        b'{"info": {"name": "x"}, "releases": {"1.0": [{"yanked": null}]}}',  # null, not false
        b'{"info": {"name": "x"}, "releases": {"1.0": ["a file name"]}}',
        b'{"info": {"name": 3}, "releases": {}}',
        b'{"name": "x", "files": [], "versions": []}',  # a Simple API page
        b"[1, 2]",
    ],
)
def test_other_shapes_are_decoded_in_full(body: bytes) -> None:
    assert decode_project(body) == json.loads(body)


@pytest.mark.parametrize("body", [b'{"info": {"name": "sac', b"<html>503</html>", b"\xff{}"])
def test_a_body_that_is_not_json_raises_value_error(body: bytes) -> None:
    with pytest.raises(ValueError):  # the transport retries it as cut short
        decode_project(body)


def test_version_beyond_int_digit_limit_is_a_record_or_a_clear_error() -> None:
    version = "1" + "0" * 4400
    payload = {
        "info": {"name": "p"},
        "releases": {version: [{"upload_time": "2024-01-01T00:00:00"}]},
    }
    _check(payload)


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
def test_upload_time_offset_overflow_is_a_record_or_a_clear_error(stamp: str) -> None:
    payload = {"info": {"name": "p"}, "releases": {"1.0": [{"upload_time_iso_8601": stamp}]}}
    _check(payload)


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
        st.from_regex(
            r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}((a|b|rc)[0-9]{0,2})?(\.post[0-9]{0,2})?"
            r"(\.dev[0-9]{0,2})?",
            fullmatch=True,
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
    assert _kind("2.0.post1") == (False, True)
    assert _kind("2.0b2.post1.dev0") == (True, True)
    assert _kind("2.0.post1.dev0") == (True, True)
    assert _kind("not a version") == (False, False)
    assert _kind("1" * 5000) == (False, False)  # beyond int()'s digit limit


def _file(stamp: object, yanked: bool = False) -> dict[str, object]:
    return {"upload_time_iso_8601": stamp, "upload_time": None, "yanked": yanked}


@pytest.mark.parametrize(
    ("stamps", "earliest"),
    [
        (["2020-01-02T00:00:00.000001Z", "2020-01-01T23:59:59.9Z"], "2020-01-01T23:59:59.9+00:00"),
        # same second: a whole second sorts before its fractions, though "Z" > "." as text
        (["2020-01-01T10:00:00.5Z", "2020-01-01T10:00:00Z"], "2020-01-01T10:00:00+00:00"),
        (["2020-01-01T10:00:00.25Z", "2020-01-01T10:00:00.3Z"], "2020-01-01T10:00:00.25+00:00"),
        # another form: every file parsed (an offset, a missing stamp)
        (["2020-01-01T10:00:00+02:00", "2020-01-01T09:00:00Z"], "2020-01-01T08:00:00+00:00"),
        ([None, "2020-01-01T09:00:00Z"], "2020-01-01T09:00:00+00:00"),
    ],
)
def test_earliest_upload_time_of_a_version(stamps: list[object], earliest: str) -> None:
    from datetime import datetime

    from tracker.collectors._pypi_parse import _earliest

    when, yanked = _earliest([_file(s, yanked=True) for s in stamps], "u")
    assert when == datetime.fromisoformat(earliest) and yanked
    assert _earliest([_file(stamps[0]), _file(stamps[1], yanked=True)], "u")[1] is False
