"""Parsers (pure) of PyPI's two project listings: the JSON API and the Simple API in JSON.

Both give the same ``PypiProject``: one ``ReleaseRecord`` per version that has files, released
at its earliest file's upload time (UTC), yanked when all its files are.

A JSON API document is about 600 KB on average (the catalog's 300 come to 190 MB), almost all of
it file metadata that no release needs (URLs, digests, sizes). ``decode_project`` decodes only
the fields releases are made of, with msgspec, about ten times faster than ``json.loads``; a
document that does not have the documented shape is decoded in full, so that
``parse_project`` names the field that is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import msgspec
from packaging.utils import canonicalize_version
from packaging.version import InvalidVersion, Version

from tracker.collectors._packages import normalize
from tracker.errors import ParseError
from tracker.records import ReleaseRecord

__all__ = [
    "ProjectDocument",
    "PypiProject",
    "decode_project",
    "parse_project",
    "parse_simple",
    "version_of",
]

SOURCE = "pypi"
# file kinds PyPI has accepted: sdists, wheels, and the old eggs and installers
_DIST = re.compile(r"\.(tar\.gz|tar\.bz2|tar\.xz|tar\.z|tgz|tbz|zip|tar|whl|egg|exe|msi|rpm|dmg)$")


@dataclass(frozen=True, slots=True)
class PypiProject:
    """Parsed releases of one PyPI project."""

    name: str
    releases: tuple[ReleaseRecord, ...]
    versions_without_files: int
    invalid_versions: int


class _File(msgspec.Struct):
    """The fields of a JSON API file that a release is made of (the others are skipped)."""

    upload_time_iso_8601: str | None = None
    upload_time: str | None = None
    yanked: bool = False

    def get(self, key: str, /) -> object | None:
        """Read a field like a dict's ``get`` (the parser takes both)."""
        return getattr(self, key, None)


class _Info(msgspec.Struct):
    name: str


class ProjectDocument(msgspec.Struct):
    """A ``/pypi/<name>/json`` document as ``decode_project`` reads it (``releases`` may be
    absent: PyPI documents it as deprecated)."""

    info: _Info
    releases: dict[str, list[_File]] | None = None


_DECODER = msgspec.json.Decoder(ProjectDocument)


def decode_project(content: bytes) -> object:
    """Decode a JSON API body: a ``ProjectDocument`` when it has the documented shape, else the
    whole JSON value; raises ValueError (or UnicodeDecodeError) when it is not JSON."""
    try:
        return _DECODER.decode(content)
    except msgspec.DecodeError:  # not JSON, or another shape: json says which
        return json.loads(content)


class _FileLike(Protocol):
    def get(self, key: str, /) -> object | None: ...


def _to_utc(value: object, *, naive_is_utc: bool) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)  # Python 3.11 reads a trailing "Z"
        if parsed.tzinfo is None or naive_is_utc:
            return parsed.replace(tzinfo=UTC)
        return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 with a positive offset
        return None


# PEP 440's normal form (release, then optional aN/bN/rcN, .postN, .devN): valid, and a
# pre-release exactly when it has a pre or dev part (packaging's rule), without building a
# packaging Version (most versions on PyPI look like this; anything else goes to packaging)
_NORMAL = re.compile(
    r"[0-9]{1,9}(?:\.[0-9]{1,9})*(?P<pre>(?:a|b|rc)[0-9]{1,9})?(?:\.post[0-9]{1,9})?"
    r"(?P<dev>\.dev[0-9]{1,9})?"
)


def _kind(version: str) -> tuple[bool, bool]:
    """Return (is_prerelease, version_valid) of a version string under PEP 440."""
    normal = _NORMAL.fullmatch(version)
    if normal:
        return normal["pre"] is not None or normal["dev"] is not None, True
    try:
        return Version(version).is_prerelease, True
    except (InvalidVersion, ValueError):  # ValueError: > 4,300 digits (int conversion limit)
        return False, False


def _upload_time(
    file: _FileLike, keys: tuple[str, ...], *, url: str, field: str
) -> datetime | None:
    """Return the first of ``keys`` that parses (the last one is naive UTC), None when absent."""
    for i, key in enumerate(keys):
        parsed = _to_utc(file.get(key), naive_is_utc=i > 0)
        if parsed is not None:
            return parsed
    if all(file.get(key) is None for key in keys):
        return None
    raise ParseError(
        "upload time is not an ISO 8601 timestamp", source=SOURCE, field=field, url=url
    )


def _project(
    tool_id: str, name: str, versions: Mapping[str, list[tuple[datetime | None, bool]]]
) -> PypiProject:
    """Return the releases of ``versions``: {version: [(upload time, yanked) per file]}."""
    records: list[ReleaseRecord] = []
    empty = invalid = 0
    for version, files in versions.items():
        if not files:
            empty += 1
            continue
        times = [t for t, _ in files if t is not None]
        prerelease, valid = _kind(version)
        invalid += not valid
        records.append(
            ReleaseRecord(
                tool_id=tool_id,
                source=SOURCE,
                project=name,
                version=version,
                released_at=min(times) if times else None,
                is_prerelease=prerelease,
                is_yanked=all(yanked for _, yanked in files),
                version_valid=valid,
            )
        )
    return PypiProject(name, tuple(records), versions_without_files=empty, invalid_versions=invalid)


def parse_project(payload: object, *, tool_id: str, package: str, url: str) -> PypiProject:
    """Return the versions in a ``/pypi/<name>/json`` payload (a ``ProjectDocument`` or the
    JSON value) as release records (UTC)."""
    if isinstance(payload, ProjectDocument):
        if payload.releases is None:
            raise ParseError("missing or not an object", source=SOURCE, field="releases", url=url)
        typed = {v: [_earliest(fs, url)] if fs else [] for v, fs in payload.releases.items()}
        return _project(tool_id, normalize(payload.info.name), typed)
    if not isinstance(payload, dict):
        raise ParseError("payload is not a JSON object", source=SOURCE, field="$", url=url)
    info = payload.get("info")
    releases = payload.get("releases")
    if not isinstance(info, dict) or not isinstance(info.get("name"), str):
        raise ParseError("missing", source=SOURCE, field="info.name", url=url)
    if not isinstance(releases, dict):
        raise ParseError("missing or not an object", source=SOURCE, field="releases", url=url)
    versions: dict[str, list[tuple[datetime | None, bool]]] = {}
    for version, files in releases.items():
        if not isinstance(files, list):
            raise ParseError(
                f"version {version!r} has no file list", source=SOURCE, field="releases", url=url
            )
        dicts = [f for f in files if isinstance(f, dict)]
        versions[str(version)] = [_earliest(dicts, url)] if dicts else []
    return _project(tool_id, normalize(str(info["name"])), versions)


_KEYS = ("upload_time_iso_8601", "upload_time")


def _earliest(files: Sequence[_FileLike], url: str) -> tuple[datetime | None, bool]:
    """Return (earliest upload time, all files yanked) of a version's files.

    PyPI writes ``upload_time_iso_8601`` as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``, which sorts as
    text second by second: the earliest is found by comparing the strings and only it is
    parsed (the catalog's projects have some 230,000 files). Any other form is parsed file
    by file."""
    best: str | None = None
    yanked = True
    for f in files:
        yanked = yanked and bool(f.get("yanked"))
        t = f.get("upload_time_iso_8601")
        if type(t) is not str or len(t) < 20 or t[-1] != "Z" or t[19] not in ".Z":
            break
        if best is None or t[:19] < best[:19] or (t[:19] == best[:19] and _frac(t) < _frac(best)):
            best = t
    else:
        parsed = _to_utc(best, naive_is_utc=False)
        if parsed is not None:
            return parsed, yanked
    yanked = all(bool(f.get("yanked")) for f in files)
    field = "releases[].upload_time"
    times = [t for f in files if (t := _upload_time(f, _KEYS, url=url, field=field)) is not None]
    return (min(times) if times else None), yanked


def _frac(stamp: str) -> str:
    """The fraction of a second of an ISO stamp ending in Z, as 6 digits (sorts as text)."""
    return stamp[20:-1].ljust(6, "0")


def _canonical(version: str) -> str:
    try:
        return canonicalize_version(version, strip_trailing_zero=False)
    except ValueError:  # more digits than int() converts
        return version


def version_of(filename: str, project: str, listed: Mapping[str, str]) -> str | None:
    """Return the version a distribution file belongs to, or None when its name does not say.

    ``project`` is the PEP 503 name; ``listed`` maps canonical versions to the Simple API's
    ``versions`` (when empty, the version in the file name is taken as it is). Wheels are
    ``name-version-tags.whl``; sdists ``name-version.tar.gz`` where the name may keep its dashes
    (``dagster-pipes-1.8.3.tar.gz``); eggs add ``-pyX.Y``.
    """
    stem = _DIST.sub("", filename.lower())
    if stem == filename.lower():
        return None
    parts = filename[: len(stem)].split("-")
    start = next((i for i in range(1, len(parts)) if normalize("-".join(parts[:i])) == project), 0)
    if not start:
        return None
    rest = parts[start:]
    for end in range(len(rest), 0, -1):  # longest first: "1.0-py2.7" before "1.0"
        candidate = "-".join(rest[:end])
        if not listed and (end == 1 or not filename.endswith(".whl")):
            return candidate
        if _canonical(candidate) in listed:
            return listed[_canonical(candidate)]
    return None


def _yanked(value: object) -> bool:
    """PEP 691 ``yanked``: false, true, or a reason string (yanked)."""
    return value is True or isinstance(value, str)


def parse_simple(payload: object, *, tool_id: str, url: str) -> PypiProject:
    """Return the versions in a Simple API JSON page (PEP 691/700) as release records (UTC)."""
    if not isinstance(payload, dict):
        raise ParseError("payload is not a JSON object", source=SOURCE, field="$", url=url)
    name, files, listed = payload.get("name"), payload.get("files"), payload.get("versions", [])
    if not isinstance(name, str) or not name:
        raise ParseError("missing", source=SOURCE, field="name", url=url)
    if not isinstance(files, list):
        raise ParseError("missing or not a list", source=SOURCE, field="files", url=url)
    if not isinstance(listed, list) or not all(isinstance(v, str) for v in listed):
        raise ParseError("not a list of strings", source=SOURCE, field="versions", url=url)
    project = normalize(name)
    canonical = {_canonical(v): v for v in listed}
    versions: dict[str, list[tuple[datetime | None, bool]]] = {v: [] for v in listed}
    for file in files:
        filename = file.get("filename") if isinstance(file, dict) else None
        if not isinstance(file, dict) or not isinstance(filename, str):
            raise ParseError(
                "file without a name", source=SOURCE, field="files[].filename", url=url
            )
        version = version_of(filename, project, canonical)
        if version is not None:  # a file name that says no version: not a release of its own
            uploaded = _upload_time(file, ("upload-time",), url=url, field="files[].upload-time")
            entry = (uploaded, _yanked(file.get("yanked")))
            versions.setdefault(version, []).append(entry)
    return _project(tool_id, project, versions)
