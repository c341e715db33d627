"""A loopback fake of every upstream tracker talks to, with switchable fault injection.

One ``ThreadingHTTPServer`` per upstream (GitHub REST + GraphQL, PyPI JSON, pypistats, ClickHouse
HTTP, Apache archive, Algolia's HN Search, Stack Exchange), each bound to 127.0.0.1 on a random
port and served from a background thread. Every server reads an in-memory data model that the
caller fills in, so a test knows the exact rows `tracker collect` must store. Shapes follow the
upstream APIs' documented answers and the recorded fixtures under tests/fixtures/. The e2e tests
and the benchmarks use it; it is not part of the installed package.

Modules: ``core`` (requests, responses, the request log, faults), one per upstream family
(``pypi``, ``github_repo`` + ``github``, ``downloads``, ``demand``) and ``server`` (the HTTP
servers and ``FakeUpstream``).

Typical use (the ``fake`` fixture in tests/conftest.py starts and stops it)::

    fake.pypi.add_project("sacred", [PypiVersion("0.8.7", at("2024-11-26T07:16:52Z"))])
    fake.faults.add(r"^/pypi/sacred/json$", Fault.error(503), source="pypi")
    env = fake.env()            # TRACKER_*_URL pointing at the servers
    ...
    assert fake.log.count(source="pypi", path="/pypi/sacred/json") == 2

Faults are consumed one per matching request, in the order they were added (``times=None``
makes a fault permanent). A ``Fault("block")`` holds the response until the test sets its
``release`` Event and tells the test it arrived through ``arrived``: no sleeps needed.

The fake never stores or echoes an Authorization value: the request log keeps only
``had_token``.
"""

from __future__ import annotations

from fakes.core import Fault, Request, RequestRecord, Response, at, iter_sundays
from fakes.demand import HnPost, HnStory
from fakes.downloads import ApacheEmulator, ApacheEntry
from fakes.github import GithubEmulator
from fakes.github_repo import Budget, GhRelease, GhRepo, StarWeek
from fakes.pypi import PypiVersion
from fakes.server import FakeUpstream

__all__ = [
    "ApacheEmulator",
    "ApacheEntry",
    "Budget",
    "FakeUpstream",
    "Fault",
    "GhRelease",
    "GhRepo",
    "GithubEmulator",
    "HnPost",
    "HnStory",
    "PypiVersion",
    "Request",
    "RequestRecord",
    "Response",
    "StarWeek",
    "at",
    "iter_sundays",
]
