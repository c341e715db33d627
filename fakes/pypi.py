"""The PyPI emulator: the JSON API and the Simple API (PEP 691 JSON)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from fakes.core import Request, Response

# ---- PyPI ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PypiVersion:
    """One version of a fake PyPI project.

    ``uploaded`` is the earliest file's upload time (what tracker stores as released_at);
    ``files`` files are generated, the others uploaded a few seconds later and listed first.
    ``files=0`` gives an empty file list (tracker skips the version).
    """

    version: str
    uploaded: datetime | None
    yanked: bool = False
    files: int = 2


class PypiEmulator:
    """``GET /pypi/<name>/json`` in the real payload shape, with ETag/304, and the Simple API
    (``GET /simple/<name>/``: PEP 691 JSON when asked for it, else a PEP 503 HTML page)."""

    SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"

    def __init__(self) -> None:
        self.projects: dict[str, tuple[str, list[PypiVersion]]] = {}
        self.etags = True  # send ETag and honour If-None-Match
        # False: the JSON API leaves out the deprecated `releases` key (and `urls`)
        self.releases_key = True

    @staticmethod
    def normalize(name: str) -> str:
        """Return the PEP 503 form of ``name``."""
        return re.sub(r"[-_.]+", "-", name).lower()

    def add_project(self, name: str, versions: Iterable[PypiVersion]) -> None:
        """Add (or replace) project ``name`` (display name as given) with ``versions``."""
        self.projects[self.normalize(name)] = (name, list(versions))

    def versions(self, name: str) -> list[PypiVersion]:
        """Return the versions of project ``name``."""
        return self.projects[self.normalize(name)][1]

    def payload(self, name: str) -> dict[str, object]:
        """Return the JSON document served for ``name``."""
        display, versions = self.projects[self.normalize(name)]
        releases: dict[str, list[dict[str, object]]] = {}
        for v in versions:
            files: list[dict[str, object]] = []
            for i in range(v.files):
                # the first listed file is the later one: the earliest is not always first
                uploaded = v.uploaded + timedelta(seconds=v.files - 1 - i) if v.uploaded else None
                files.append(self._file(display, v, i, uploaded))
            releases[v.version] = files
        latest = versions[-1].version if versions else ""
        document: dict[str, object] = {
            "info": {
                "name": display,
                "version": latest,
                "summary": f"{display} (fake)",
                "project_urls": {"Homepage": f"https://example.invalid/{display}"},
                "requires_python": ">=3.8",
                "yanked": False,
            },
            "last_serial": 1,
            "releases": releases,
            "urls": releases.get(latest, []),
            "vulnerabilities": [],
        }
        if not self.releases_key:
            del document["releases"], document["urls"]
        return document

    def simple(self, name: str) -> dict[str, object]:
        """Return the Simple API page of ``name`` in JSON (PEP 691, api-version 1.1)."""
        display, versions = self.projects[self.normalize(name)]
        files: list[dict[str, object]] = []
        for v in versions:
            for i in range(v.files):
                uploaded = v.uploaded + timedelta(seconds=v.files - 1 - i) if v.uploaded else None
                legacy = self._file(display, v, i, uploaded)
                file: dict[str, object] = {
                    "filename": legacy["filename"],
                    "hashes": {"sha256": cast(dict[str, str], legacy["digests"])["sha256"]},
                    "requires-python": ">=3.8",
                    "size": legacy["size"],
                    "url": legacy["url"],
                    # PEP 691: false, or the reason string (true when no reason was given)
                    "yanked": "broken" if v.yanked else False,
                }
                if uploaded:  # PEP 700: optional
                    file["upload-time"] = uploaded.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                files.append(file)
        return {
            "meta": {"api-version": "1.1", "_last-serial": "1"},
            "name": self.normalize(display),
            "files": sorted(files, key=lambda f: str(f["filename"])),
            "versions": sorted(v.version for v in versions),
        }

    @staticmethod
    def _file(name: str, v: PypiVersion, i: int, uploaded: datetime | None) -> dict[str, object]:
        digest = hashlib.sha256(f"{name}{v.version}{i}".encode()).hexdigest()
        sdist = i == v.files - 1
        return {
            "comment_text": "",
            "digests": {"md5": digest[:32], "sha256": digest},
            "filename": f"{name}-{v.version}.tar.gz"
            if sdist
            else f"{name}-{v.version}-py3-none-any.whl",
            "packagetype": "sdist" if sdist else "bdist_wheel",
            "python_version": "source" if sdist else "py3",
            "requires_python": ">=3.8",
            "size": 1000 + i,
            "upload_time": uploaded.strftime("%Y-%m-%dT%H:%M:%S") if uploaded else None,
            "upload_time_iso_8601": uploaded.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            if uploaded
            else None,
            "url": f"https://files.example.invalid/{name}/{v.version}/{i}",
            "yanked": v.yanked,
            "yanked_reason": "broken" if v.yanked else None,
        }

    def _simple(self, req: Request, name: str) -> Response:
        key = self.normalize(name)
        if key not in self.projects:
            return Response.text("<h1>404 Not Found</h1>", 404, "text/html")
        if self.SIMPLE_JSON in req.headers.get("accept", ""):
            body = json.dumps(self.simple(key)).encode()
            return Response(200, body, {"Content-Type": self.SIMPLE_JSON})
        links = "".join(
            f'<a href="{f["url"]}">{f["filename"]}</a><br/>'
            for f in cast(list[dict[str, object]], self.simple(key)["files"])
        )
        return Response.text(f"<html><body>{links}</body></html>", 200, "text/html")

    def handle(self, req: Request) -> Response:
        simple = re.fullmatch(r"/simple/([^/]+)/?", req.path)
        if req.method in ("GET", "HEAD") and simple:
            return self._simple(req, simple.group(1))
        match = re.fullmatch(r"/pypi/([^/]+)/json/?", req.path)
        if req.method not in ("GET", "HEAD") or not match:
            return Response.json({"message": "Not Found"}, 404)
        key = self.normalize(match.group(1))
        if key not in self.projects:
            return Response(404, b"", {"Content-Type": "text/plain"})
        response = Response.json(self.payload(key))
        if self.etags:
            etag = '"' + hashlib.sha256(response.body).hexdigest()[:20] + '"'
            response.headers["ETag"] = etag
            response.headers["Cache-Control"] = "max-age=900, public"
            if req.headers.get("if-none-match") == etag:
                return Response(304, b"", {"ETag": etag})
        return response
