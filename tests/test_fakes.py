"""Self-tests of the loopback fake: each emulated endpoint has the shape api-notes.md gives."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, date, datetime

import httpx
import pytest

from fakes import (
    FakeUpstream,
    Fault,
    GhRelease,
    PypiVersion,
    StarWeek,
    at,
    iter_sundays,
)


def _client(fake: FakeUpstream, source: str, **kw: object) -> httpx.Client:
    return httpx.Client(base_url=fake.url(source), timeout=10, **kw)  # type: ignore[arg-type]


def test_binds_loopback_only(fake: FakeUpstream) -> None:
    for source in ("github", "pypi", "pypistats", "clickpy", "apache", "hn", "stackoverflow"):
        assert fake.url(source).startswith("http://127.0.0.1:")
    env = fake.env()
    assert set(env) == {
        "TRACKER_GITHUB_API_URL",
        "TRACKER_PYPI_URL",
        "TRACKER_PYPISTATS_URL",
        "TRACKER_CLICKHOUSE_URL",
        "TRACKER_APACHE_URL",
        "TRACKER_HN_URL",
        "TRACKER_STACKEXCHANGE_URL",
    }
    assert fake.env(github_enterprise=True)["TRACKER_GITHUB_API_URL"].endswith("/api/v3")


# ---- PyPI ------------------------------------------------------------------------------------


def _awkward() -> list[PypiVersion]:
    """Three versions: two files (one earlier than the other), one yanked file, no file."""
    return [
        PypiVersion("1.0", at("2020-01-02T03:04:05.123456Z")),
        PypiVersion("1.1", at("2020-02-02T00:00:00Z"), yanked=True, files=1),
        PypiVersion("2.0", None, files=0),
    ]


def test_pypi_payload_shape_etag_and_404(fake: FakeUpstream) -> None:
    fake.pypi.add_project("Awkward_Pkg", _awkward())
    with _client(fake, "pypi") as c:
        r = c.get("/pypi/awkward-pkg/json")
        assert r.status_code == 200
        doc = r.json()
        assert doc["info"]["name"] == "Awkward_Pkg"
        files = doc["releases"]["1.0"]
        assert len(files) == 2 and doc["releases"]["2.0"] == []
        # the earliest file is listed second; both time fields are present
        assert [f["upload_time"] for f in files] == ["2020-01-02T03:04:06", "2020-01-02T03:04:05"]
        assert files[1]["upload_time_iso_8601"] == "2020-01-02T03:04:05.123456Z"
        assert {"filename", "packagetype", "yanked", "yanked_reason", "size", "digests"} <= set(
            files[0]
        )
        assert doc["releases"]["1.1"][0]["yanked"] is True
        etag = r.headers["etag"]
        again = c.get("/pypi/Awkward.Pkg/json", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert c.get("/pypi/nope/json").status_code == 404


def test_pypi_simple_api_json_and_a_json_api_without_releases(fake: FakeUpstream) -> None:
    fake.pypi.add_project("Awkward_Pkg", [*_awkward(), PypiVersion("3.0", None, files=1)])
    fake.pypi.releases_key = False
    accept = {"Accept": "application/vnd.pypi.simple.v1+json"}
    with _client(fake, "pypi") as c:
        assert set(c.get("/pypi/awkward-pkg/json").json()) == {
            "info",
            "last_serial",
            "vulnerabilities",
        }
        r = c.get("/simple/Awkward.Pkg/", headers=accept)
        assert r.headers["content-type"] == "application/vnd.pypi.simple.v1+json"
        doc = r.json()
        assert doc["name"] == "awkward-pkg" and doc["meta"]["api-version"] == "1.1"
        assert doc["versions"] == ["1.0", "1.1", "2.0", "3.0"]
        by_name = {f["filename"]: f for f in doc["files"]}
        assert by_name["Awkward_Pkg-1.0.tar.gz"]["upload-time"] == "2020-01-02T03:04:05.123456Z"
        assert by_name["Awkward_Pkg-1.1.tar.gz"]["yanked"] == "broken"  # a reason string
        assert by_name["Awkward_Pkg-1.0.tar.gz"]["yanked"] is False
        assert "upload-time" not in by_name["Awkward_Pkg-3.0.tar.gz"]
        assert c.get("/simple/awkward-pkg/").headers["content-type"].startswith("text/html")
        assert c.get("/simple/nope/", headers=accept).status_code == 404


# ---- GitHub REST -----------------------------------------------------------------------------


def _repo(fake: FakeUpstream) -> None:
    fake.github.add_repo(
        "apache/airflow",
        id=33884891,
        description="<script>alert(1)</script> Platform",
        stargazers_count=40000,
        forks_count=15000,
        open_issues_count=1200,
        subscribers_count=760,
        releases=[
            GhRelease(f"v{i}", at(f"2024-01-{i:02d}T00:00:00Z"), at(f"2024-01-{i:02d}T01:00:00Z"))
            for i in range(1, 6)
        ],
        star_weeks=[
            StarWeek(w, (1, 2, 3, 4, 5, 6, i))
            for i, w in enumerate(iter_sundays(date(2026, 11, 25), 5))
        ],
    )


def test_github_repo_headers_etag_and_404(fake: FakeUpstream) -> None:
    _repo(fake)
    with _client(fake, "github") as c:
        r = c.get("/repos/apache/airflow", headers={"Authorization": "Bearer ghp_x"})
        doc = r.json()
        for key in (
            "id",
            "full_name",
            "description",
            "created_at",
            "pushed_at",
            "stargazers_count",
            "forks_count",
            "open_issues_count",
            "subscribers_count",
            "watchers_count",
            "archived",
            "html_url",
        ):
            assert key in doc
        assert doc["watchers_count"] == doc["stargazers_count"] == 40000
        assert r.headers["x-ratelimit-limit"] == "5000"
        assert r.headers["x-ratelimit-remaining"] == "4999"
        assert r.headers["x-ratelimit-resource"] == "core"
        etag = r.headers["etag"]
        again = c.get(
            "/repos/apache/airflow",
            headers={"Authorization": "Bearer ghp_x", "If-None-Match": etag},
        )
        assert again.status_code == 304
        assert again.headers["x-ratelimit-remaining"] == "4999"  # authorised 304s are free
        missing = c.get("/repos/apache/nothing")
        assert missing.status_code == 404 and missing.json()["message"] == "Not Found"
        assert missing.headers["x-ratelimit-limit"] == "60"  # anonymous budget
    assert [r.had_token for r in fake.log.find(source="github")] == [True, True, False]
    assert all("ghp_x" not in json.dumps(r.headers) for r in fake.log.all())


def test_github_rename_answers_301_to_repositories_id(fake: FakeUpstream) -> None:
    _repo(fake)
    fake.github.rename("apache/airflow", "apache/airflow-new")
    with _client(fake, "github") as c:
        r = c.get("/repos/apache/airflow")
        assert r.status_code == 301
        assert r.headers["location"] == f"{fake.url('github')}/repositories/33884891"
        moved = c.get(r.headers["location"]).json()
        assert moved["full_name"] == "apache/airflow-new" and moved["id"] == 33884891
        sub = c.get("/repos/apache/airflow/releases", params={"per_page": 2})
        assert sub.status_code == 301
        assert "/repositories/33884891/releases" in sub.headers["location"]
    with _client(fake, "github", follow_redirects=True) as c:
        assert len(c.get("/api/v3/repos/apache/airflow/releases?per_page=2").json()) == 2


def test_github_releases_pagination_links(fake: FakeUpstream) -> None:
    _repo(fake)
    with _client(fake, "github") as c:
        first = c.get("/api/v3/repos/apache/airflow/releases", params={"per_page": 2})
        assert [r["tag_name"] for r in first.json()] == ["v5", "v4"]  # newest first
        assert first.json()[0].keys() >= {
            "tag_name",
            "name",
            "draft",
            "prerelease",
            "created_at",
            "published_at",
        }
        base = fake.url("github") + "/api/v3/repos/apache/airflow/releases"
        assert first.headers["link"] == (
            f'<{base}?per_page=2&page=2>; rel="next", <{base}?per_page=2&page=3>; rel="last"'
        )
        last = c.get(base + "?per_page=2&page=3")
        assert [r["tag_name"] for r in last.json()] == ["v1"]
        assert 'rel="next"' not in last.headers.get("link", "")


def test_github_star_history_weeks(fake: FakeUpstream) -> None:
    _repo(fake)
    fake.github.star_per_page_max = 2
    with _client(fake, "github") as c:
        url = "/repos/apache/airflow/stargazers/history"
        page1 = c.get(url, params={"per_page": 30, "page": 1})
        weeks = page1.json()
        assert len(weeks) == 2  # the ceiling applies
        first = datetime.fromtimestamp(weeks[0]["week"], UTC)
        assert first.weekday() == 6 and (first.hour, first.minute) == (0, 0)  # Sunday 00:00 UTC
        assert weeks[0]["week"] > weeks[1]["week"]  # newest first
        assert weeks[0]["total"] == sum(weeks[0]["days"]) and len(weeks[0]["days"]) == 7
        assert 'rel="next"' in page1.headers["link"]
        assert c.get(url, params={"page": 4}).json() == []  # after the last page


def test_github_budget_exhausted_and_rate_limit_endpoint(fake: FakeUpstream) -> None:
    _repo(fake)
    fake.github.core.remaining = 1
    auth = {"Authorization": "token ghp_y"}
    with _client(fake, "github") as c:
        assert c.get("/repos/apache/airflow", headers=auth).status_code == 200
        r = c.get("/repos/apache/airflow", headers=auth)
        assert r.status_code == 403 and r.headers["x-ratelimit-remaining"] == "0"
        assert "rate limit exceeded" in r.json()["message"]
        limits = c.get("/rate_limit", headers=auth).json()
        assert limits["resources"]["core"]["remaining"] == 0
        fake.github.limit_status = 429
        assert c.get("/repos/apache/airflow", headers=auth).status_code == 429


def test_github_secondary_limit_fault(fake: FakeUpstream) -> None:
    _repo(fake)
    fake.faults.add("/repos/", Fault.secondary_rate_limit(retry_after=3), source="github")
    with _client(fake, "github") as c:
        r = c.get("/repos/apache/airflow")
        assert r.status_code == 403 and r.headers["retry-after"] == "3"
        assert "secondary rate limit" in r.json()["message"]
        assert c.get("/repos/apache/airflow").status_code == 200  # consumed


# ---- GitHub GraphQL --------------------------------------------------------------------------


def test_graphql_aliases_not_found_and_rate_limit(fake: FakeUpstream) -> None:
    _repo(fake)
    query = (
        'query { r0: repository(owner:"apache", name:"airflow") { nameWithOwner stargazerCount '
        "releases(first: 3, orderBy:{field: CREATED_AT, direction: DESC}) { totalCount "
        "nodes { tagName name publishedAt isPrerelease isDraft } } } "
        'r1: repository(owner: "nobody", name: "nothing") { nameWithOwner } '
        "r2: repository(owner: $o, name: $n) { nameWithOwner } "
        "rateLimit { cost remaining resetAt limit } }"
    )
    body = {"query": query, "variables": {"o": "apache", "n": "airflow"}}
    with _client(fake, "github") as c:
        assert c.post("/graphql", json=body).status_code == 401  # a token is required
        r = c.post("/api/graphql", json=body, headers={"Authorization": "bearer t"})
        doc = r.json()
        assert r.status_code == 200 and r.headers["x-ratelimit-resource"] == "graphql"
        r0 = doc["data"]["r0"]
        assert r0["nameWithOwner"] == "apache/airflow" and r0["stargazerCount"] == 40000
        assert r0["releases"]["totalCount"] == 5
        assert [n["tagName"] for n in r0["releases"]["nodes"]] == ["v5", "v4", "v3"]
        assert doc["data"]["r1"] is None
        assert doc["errors"][0]["type"] == "NOT_FOUND" and doc["errors"][0]["path"] == ["r1"]
        assert doc["data"]["r2"]["nameWithOwner"] == "apache/airflow"
        assert doc["data"]["rateLimit"]["cost"] == 1
        assert doc["data"]["rateLimit"]["remaining"] == 4999


# ---- pypistats -------------------------------------------------------------------------------


def test_pypistats_shapes_404_and_429_html(fake: FakeUpstream) -> None:
    days = {date(2026, 11, d): d * 10 for d in range(1, 25)}
    fake.pypistats.add_package("dagster", days)
    with _client(fake, "pypistats") as c:
        recent = c.get("/api/packages/dagster/recent").json()
        assert recent == {
            "data": {
                "last_day": 240,
                "last_week": sum(d * 10 for d in range(18, 25)),
                "last_month": sum(days.values()),
            },
            "package": "dagster",
            "type": "recent_downloads",
        }
        overall = c.get("/api/packages/dagster/overall", params={"mirrors": "false"}).json()
        assert overall["type"] == "overall_downloads"
        assert overall["data"][0] == {
            "category": "without_mirrors",
            "date": "2026-11-01",
            "downloads": 10,
        }
        assert {r["category"] for r in overall["data"]} == {"without_mirrors"}
        both = c.get("/api/packages/dagster/overall").json()["data"]
        assert {r["category"] for r in both} == {"without_mirrors", "with_mirrors"}
        assert c.get("/api/packages/nope/recent").status_code == 404
        fake.pypistats.per_minute = 1
        assert c.get("/api/packages/dagster/recent").status_code == 200
        limited = c.get("/api/packages/dagster/recent")
        assert limited.status_code == 429 and limited.text.startswith("<html>")


# ---- ClickHouse ------------------------------------------------------------------------------

_SQL = (
    "SELECT date, sum(count) AS count FROM pypi.pypi_downloads_per_day "
    "WHERE project = {name:String} AND date >= {since:Date} GROUP BY date ORDER BY date "
    "FORMAT JSONEachRow"
)


def test_clickhouse_jsoneachrow_quoted_ints(fake: FakeUpstream) -> None:
    fake.clickhouse.add_project("dagster", {date(2026, 1, d): 10**12 + d for d in range(1, 6)})
    with _client(fake, "clickpy") as c:
        r = c.post(
            "/",
            params={"user": "play", "param_name": "dagster", "param_since": "2026-01-03"},
            content=_SQL,
        )
        assert r.status_code == 200
        rows = [json.loads(line) for line in r.text.splitlines()]
        assert rows == [
            {"date": "2026-01-03", "count": "1000000000003"},
            {"date": "2026-01-04", "count": "1000000000004"},
            {"date": "2026-01-05", "count": "1000000000005"},
        ]
        bad_user = c.post("/", params={"user": "root", "param_name": "x"}, content=_SQL)
        assert bad_user.status_code == 403 and "Code: 516" in bad_user.text
        unknown = c.post("/", params={"user": "play"}, content="SELECT 1 FROM pypi.nope")
        assert unknown.status_code == 404 and "Code: 60. DB::Exception" in unknown.text


def test_clickhouse_exception_after_200(fake: FakeUpstream) -> None:
    fake.clickhouse.add_project("dagster", {date(2026, 1, d): d for d in range(1, 6)})
    fake.clickhouse.error_after_rows = 2
    with _client(fake, "clickpy") as c:
        r = c.post("/", params={"user": "play", "param_name": "dagster"}, content=_SQL)
    assert r.status_code == 200
    lines = r.text.splitlines()
    assert [json.loads(x)["date"] for x in lines[:2]] == ["2026-01-01", "2026-01-02"]
    assert lines[2].startswith("Code: 241. DB::Exception:")


# ---- Apache ----------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["table", "pre"])
def test_apache_autoindex(fake: FakeUpstream, style: str) -> None:
    fake.apache.style = style
    fake.apache.add_project(
        "oozie",
        {"5.2.1": datetime(2021, 1, 4, 10, 30), "oozie-3.3.2": datetime(2013, 5, 2, 19, 40)},
        {"KEYS": datetime(2021, 1, 4, 10, 0)},
    )
    with _client(fake, "apache") as c:
        r = c.get("/dist/oozie/")
        assert c.get("/dist/oozie").status_code == 301
        assert c.get("/dist/nope/").status_code == 404
    page = r.text
    assert r.headers["content-type"].startswith("text/html")
    for needle in (
        "Index of /dist/oozie",
        "Parent Directory",
        'href="?C=N;O=D"',
        'href="KEYS"',
        'href="5.2.1/"',
        'href="oozie-3.3.2/"',
        "2021-01-04 10:30",
        "2013-05-02 19:40",
    ):
        assert needle in page
    if style == "table":
        from selectolax.lexbor import LexborHTMLParser

        cells = {
            row.css_first("a").attributes["href"]: [td.text(strip=True) for td in row.css("td")]
            for row in LexborHTMLParser(page).css("tr")
            if row.css_first("td a")
        }
        assert cells["5.2.1/"][1:3] == ["5.2.1/", "2021-01-04 10:30"]


# ---- faults ----------------------------------------------------------------------------------


def test_faults_are_consumed_in_order_and_scoped(fake: FakeUpstream) -> None:
    fake.pypi.add_project("a", [PypiVersion("1.0", at("2020-01-01T00:00:00Z"))])
    fake.faults.add(r"/pypi/a/", Fault.error(500, "boom"), source="pypi")
    fake.faults.add(r"/pypi/a/", Fault.error(429, {"x": 1}, headers={"Retry-After": "1"}))
    with _client(fake, "pypi") as c:
        first = c.get("/pypi/a/json")
        assert (first.status_code, first.text) == (500, "boom")
        second = c.get("/pypi/a/json")
        assert second.status_code == 429 and second.headers["retry-after"] == "1"
        assert second.json() == {"x": 1}
        assert c.get("/pypi/a/json").status_code == 200
    assert fake.faults.pending() == 0
    assert [r.status for r in fake.log.find(source="pypi")] == [500, 429, 200]


def test_fault_reset_truncate_and_cut_json(fake: FakeUpstream) -> None:
    fake.pypi.add_project("a", [PypiVersion("1.0", at("2020-01-01T00:00:00Z"))])
    fake.faults.add("/pypi/a/json", Fault("reset"))
    fake.faults.add("/pypi/a/json", Fault("truncate"))
    fake.faults.add("/pypi/a/json", Fault("cut_json"))
    with _client(fake, "pypi") as c:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            c.get("/pypi/a/json")
        with pytest.raises(httpx.RemoteProtocolError):
            c.get("/pypi/a/json")
        cut = c.get("/pypi/a/json")
        assert cut.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(cut.content)
        assert c.get("/pypi/a/json").json()["info"]["name"] == "a"


def test_fault_block_waits_for_release(fake: FakeUpstream) -> None:
    fake.pypi.add_project("a", [PypiVersion("1.0", at("2020-01-01T00:00:00Z"))])
    gate = fake.faults.add("/pypi/a/json", Fault("block"))
    result: list[int] = []

    def get() -> None:
        with _client(fake, "pypi") as c:
            result.append(c.get("/pypi/a/json").status_code)

    worker = threading.Thread(target=get)
    worker.start()
    assert gate.arrived.wait(10)
    assert result == []  # still held
    gate.release.set()
    worker.join(10)
    assert result == [200]


def test_permanent_down_and_offline(fake: FakeUpstream) -> None:
    fake.faults.down("pypistats")
    with _client(fake, "pypistats") as c:
        for _ in range(3):
            assert c.get("/api/packages/x/recent").status_code == 503
    fake.take_offline("apache")
    port = int(fake.url("apache").rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass


# ---- demand sources ----------------------------------------------------------------------------


def test_hn_listing_and_thread_shapes(fake: FakeUpstream) -> None:
    jan = fake.hn.add_month(date(2025, 1, 1), ["Acme | Airflow | REMOTE", None])
    fake.hn.add_post(jan, "Beta | Dagster", replies=["Is it remote?"])
    fake.hn.add_post(jan, "dead post", dead=True)
    fake.hn.add_month(date(2025, 2, 1), ["Gamma | Kafka"])
    with _client(fake, "hn") as c:
        listing = c.get(
            "/api/v1/search_by_date",
            params={
                "tags": "story,author_whoishiring",
                "hitsPerPage": "4",
                "numericFilters": f"created_at_i>={int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())}",
            },
        ).json()
        assert listing["nbHits"] == 6 and listing["nbPages"] == 2 and len(listing["hits"]) == 4
        titles = [h["title"] for h in listing["hits"]]
        assert titles[0] == "Ask HN: Who is hiring? (February 2025)"
        created = [h["created_at_i"] for h in listing["hits"]]
        assert created == sorted(created, reverse=True)
        item = c.get(f"/api/v1/items/{jan.id}").json()
        assert item["id"] == jan.id and item["type"] == "story"
        kids = item["children"]
        assert [k["text"] for k in kids] == [
            "Acme | Airflow | REMOTE",
            None,
            "Beta | Dagster",
            None,
        ]
        assert kids[1]["author"] is None and kids[2]["children"][0]["text"] == "Is it remote?"
        assert all(k["parent_id"] == jan.id for k in kids)
        assert c.get("/api/v1/items/1").status_code == 404


def test_stackexchange_answers_gzip_counts_and_quota(fake: FakeUpstream) -> None:
    jan = date(2025, 1, 1)
    fake.stackexchange.add_tag("dagster", {jan: 17})
    fake.stackexchange.site_totals[jan] = 50_000
    fake.stackexchange.quota_max = 2
    fake.stackexchange.backoff_next = [3]
    start = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(2025, 2, 1, tzinfo=UTC).timestamp()) - 1
    params = {"site": "stackoverflow", "fromdate": start, "todate": end, "filter": "total"}
    with _client(fake, "stackoverflow") as c:
        one = c.get("/2.3/questions", params={**params, "tagged": "dagster"})
        assert one.headers["content-encoding"] == "gzip"
        assert one.json() == {"total": 17, "backoff": 3}
        assert c.get("/2.3/questions", params=params).json() == {"total": 50_000}
        over = c.get("/2.3/questions", params=params)
        assert over.status_code == 400
        assert over.json()["error_name"] == "throttle_violation"
        assert "more requests available in" in over.json()["error_message"]
        # a key has its own, larger quota
        keyed = c.get("/2.3/questions", params={**params, "tagged": "dagster", "key": "k"})
        assert keyed.json() == {"total": 17}
        odd = c.get("/2.3/questions", params={**params, "todate": end - 5, "key": "k"})
        assert odd.status_code == 400 and odd.json()["error_name"] == "bad_parameter"
    assert fake.stackexchange.asked == [("dagster", jan), (None, jan), ("dagster", jan)]
