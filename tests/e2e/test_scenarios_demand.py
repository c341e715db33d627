"""End-to-end scenarios of the demand sources (issue 16): `tracker collect --source hn --source
stackoverflow` as a subprocess against the loopback fake (Algolia HN Search, Stack Exchange).

The subprocess runs on the wall clock, so the fake's data is laid out around the current month
and every expectation is computed from the fake's model. A test that straddles a UTC month
boundary still holds: the fake serves threads up to the month the test started in, and the
expectations accept either side of the boundary where the collectors' window moves.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from fakes import FakeUpstream, HnStory
from tests.e2e.conftest import query, query_distinct, run_tracker

pytestmark = pytest.mark.slow

CATALOG = """\
tools:
  - id: airflow
    job_terms:
      cased: [Airflow]
    stackoverflow_tags: [apache-airflow, airflow]
  - id: dagster
    job_terms: [Dagster]
    stackoverflow_tags: [dagster]
  - id: kafka
    job_terms: [Apache Kafka]
    stackoverflow_tags: [apache-kafka]
"""
TOOLS = ("airflow", "dagster", "kafka")
TOOL_ARGS = [arg for t in TOOLS for arg in ("--tool", t)]
SO_TOOLS = {
    "airflow": ("apache-airflow", "airflow"),
    "dagster": ("dagster",),
    "kafka": ("apache-kafka",),
}
SO_ARGS = [arg for t in SO_TOOLS for arg in ("--tool", t)]

# job posts as HN sends them (HTML), labelled by hand with the tools they name
POSTS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "Acme Analytics | Senior Data Engineer | REMOTE (EU)<p>Python, Airflow and dbt on AWS.",
        frozenset({"airflow"}),
    ),
    (
        "Northwind HVAC | Service Technician | Denver, CO | ONSITE<p>Balance airflow in offices.",
        frozenset(),
    ),
    (
        "Modelworks | ML Platform Engineer | NYC<p>Dagster and Apache Kafka on Kubernetes.",
        frozenset({"dagster", "kafka"}),
    ),
    ("Infra Co | SRE | REMOTE (US)<p>Terraform, Prometheus, Grafana.", frozenset()),
    (
        'Stream Inc | Backend | Berlin<p>Apache Kafka at scale. <a href="https:&#x2F;&#x2F;'
        'airflow.example&#x2F;jobs" rel="nofollow">careers</a>',
        frozenset({"kafka"}),
    ),
    (
        "Data Co | Analytics Engineer | Austin<p>Our Airflow DAGs hand over to Dagster assets.",
        frozenset({"airflow", "dagster"}),
    ),
)


def _h(*parts: object) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def _month(value: datetime) -> date:
    return date(value.year, value.month, 1)


def _add(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def _env(e2e_env: Mapping[str, str], tmp_path: Path, **extra: str) -> dict[str, str]:
    """The e2e environment with this file's catalog override and without an app key (the
    300-a-day quota), plus ``extra``."""
    catalog = tmp_path / "demand-catalog.yaml"
    catalog.write_text(CATALOG, encoding="utf-8")
    env = {**e2e_env, "TRACKER_CATALOG": str(catalog), **extra}
    env.pop("TRACKER_STACKEXCHANGE_KEY", None)
    return env


def _db(env: Mapping[str, str]) -> Path:
    return Path(env["TRACKER_DB"])


# ---- hn -------------------------------------------------------------------------------------


def serve_month(fake: FakeUpstream, month: date) -> HnStory:
    """Add ``month``'s thread: a varying subset of POSTS, replies, deleted and dead comments."""
    story = fake.hn.add_month(month)
    for i, (text, _) in enumerate(POSTS):
        if _h(month, i) % 3:  # about two thirds of the posts each month
            fake.hn.add_post(story, text, replies=["Is the Airflow role remote? Dagster too?"])
    if month.month % 2 == 0:
        fake.hn.add_post(story, None, replies=["Why was this Apache Kafka post deleted?"])
    if month.month % 3 == 0:
        fake.hn.add_post(story, POSTS[0][0], dead=True)  # dead: no text comes back
    return story


def expected_hn(fake: FakeUpstream, months: list[date]) -> set[tuple[object, ...]]:
    labels = dict(POSTS)
    out: set[tuple[object, ...]] = set()
    for month in months:
        story = fake.hn.hiring(month)
        posts = [p.text for p in story.posts if p.text is not None and not p.dead]
        for tool_id in TOOLS:
            mentions = sum(1 for p in posts if tool_id in labels[p])
            out.add((tool_id, month, mentions, len(posts)))
    return out


def stored(db: Path, source: str) -> set[tuple[object, ...]]:
    rows = query_distinct(
        db, "SELECT tool_id, month, mentions, total FROM demand_monthly WHERE source = ?", [source]
    )
    keys = [(r[0], r[1]) for r in rows]
    assert len(keys) == len(set(keys))  # one row per (tool, month): no duplicates
    return rows


def test_hn_first_run_for_120_months_then_a_grown_thread_is_read_again(
    fake: FakeUpstream, e2e_env: dict[str, str], tmp_path: Path
) -> None:
    started = _month(datetime.now(UTC))
    months = [_add(started, -i) for i in range(120)][::-1]  # the last 120 months
    for month in months:
        serve_month(fake, month)
    env = _env(e2e_env, tmp_path)

    first = run_tracker(["--log-level", "info", "collect", "-s", "hn", *TOOL_ARGS], env)

    assert first.returncode == 0, first.stderr
    assert "hn: ok, 3 tools stored, 0 failed, 360 rows, 121 requests" in first.stdout
    db = _db(env)
    # the budget: one listing request and one request per month-thread
    assert fake.log.count(source="hn") == 121 <= 130
    assert fake.log.count(source="hn", path=r"^/api/v1/search_by_date$") == 1
    assert query(db, "SELECT status, tools_ok, requests, rows_written FROM runs") == [
        ("ok", 3, 121, 360)
    ]
    assert stored(db, "hn") == expected_hn(fake, months)
    # the months before the fake's 120 have no thread: said once, not an error
    assert "no 'Ask HN: Who is hiring?' thread found for" in first.stderr
    assert query(db, "SELECT count(*) FROM run_errors") == [(0,)]

    # the current thread grows (a post, a deleted comment, a post naming two tools); an old
    # thread grows too, but months older than the previous one are final and not read again
    current, old = fake.hn.hiring(started), fake.hn.hiring(months[-6])
    fake.hn.add_post(current, POSTS[0][0])
    fake.hn.add_post(current, None)
    fake.hn.add_post(current, POSTS[5][0])
    fake.hn.add_post(old, POSTS[2][0])
    before_old = {r for r in stored(db, "hn") if r[1] == months[-6]}
    fake.log.clear()

    second = run_tracker(["collect", "-s", "hn", *TOOL_ARGS], env)

    assert second.returncode == 0, second.stderr
    read = [r.path for r in fake.log.find(source="hn", path=r"^/api/v1/items/")]
    rolled = _month(datetime.now(UTC)) != started  # a month boundary passed: `started` is previous
    expected_items = [f"/api/v1/items/{current.id}"]
    if not rolled:
        expected_items.append(f"/api/v1/items/{fake.hn.hiring(months[-2]).id}")
    assert read == expected_items
    got = stored(db, "hn")
    assert {r for r in got if r[1] == started} == expected_hn(fake, [started])
    assert {r for r in got if r[1] == months[-6]} == before_old
    assert len(got) == 360


def test_hn_deleted_and_dead_comments_and_replies_do_not_count(
    fake: FakeUpstream, e2e_env: dict[str, str], tmp_path: Path
) -> None:
    month = _month(datetime.now(UTC))
    story = fake.hn.add_month(month)
    fake.hn.add_post(story, POSTS[0][0], replies=["Apache Kafka? Dagster?"])
    fake.hn.add_post(story, None, replies=["This one said Dagster"])  # deleted, reply kept
    fake.hn.add_post(story, POSTS[2][0], dead=True)
    fake.hn.add_post(story, POSTS[1][0])  # HVAC airflow
    env = _env(e2e_env, tmp_path)

    done = run_tracker(["collect", "-s", "hn", *TOOL_ARGS], env)

    assert done.returncode == 0, done.stderr
    assert {r for r in stored(_db(env), "hn") if r[1] == month} == {
        ("airflow", month, 1, 2),
        ("dagster", month, 0, 2),
        ("kafka", month, 0, 2),
    }


# ---- stackoverflow --------------------------------------------------------------------------


def serve_questions(fake: FakeUpstream, last: date) -> list[date]:
    """Give the fake question counts for every month from 2015-01 to ``last``; return them."""
    months = []
    month = date(2015, 1, 1)
    while month <= last:
        months.append(month)
        fake.stackexchange.site_totals[month] = 200_000 - 900 * len(months)
        for tags in SO_TOOLS.values():
            for tag in tags:
                fake.stackexchange.questions[(tag, month)] = _h(tag, month) % 700
        month = _add(month, 1)
    return months


def expected_so(fake: FakeUpstream, months: list[date]) -> set[tuple[object, ...]]:
    se = fake.stackexchange
    return {
        (tool_id, m, sum(se.count(tag, m) for tag in tags), se.count(None, m))
        for tool_id, tags in SO_TOOLS.items()
        for m in months
    }


def _stored_through(fake: FakeUpstream, db: Path, started: datetime) -> list[date]:
    """Return 2015-01 .. the newest stored month, checking that it is the month before the run
    (the month the test started in, or the next one when a UTC month boundary passed since)."""
    newest = query(db, "SELECT max(month) FROM demand_monthly WHERE source = 'stackoverflow'")
    last = newest[0][0]
    assert last in {_add(_month(started), -1), _month(started)}, last
    return [m for m in sorted(fake.stackexchange.site_totals) if m <= last]


def test_stackoverflow_quota_cut_backfill_resumes_without_duplicates(
    fake: FakeUpstream, e2e_env: dict[str, str], tmp_path: Path
) -> None:
    started = datetime.now(UTC)
    serve_questions(fake, _month(started))
    for back in (1, 2, 3):
        serve_month(fake, _add(_month(started), -back))
    fake.stackexchange.backoff_next = [1]  # the first answer asks for a 1 s pause
    env = _env(e2e_env, tmp_path)
    key = "e2e((Key" + hashlib.sha256(b"k").hexdigest()[:8]

    first = run_tracker(
        ["--log-level", "info", "collect", "-s", "hn", "-s", "stackoverflow", *TOOL_ARGS], env
    )

    # hn is complete; stackoverflow stopped cleanly at the day's 300 requests (5 a month)
    assert first.returncode == 1, first.stderr
    assert "hn: ok, 3 tools stored" in first.stdout
    assert "stackoverflow: partial, 0 tools stored, 3 failed, 180 rows, 300 requests" in (
        first.stdout
    )
    se = fake.stackexchange
    assert se.quota_used == {False: 300, True: 0}
    assert all(r.status == 200 for r in fake.log.find(source="stackoverflow"))
    db = _db(env)
    newest = max(m for _, m in se.asked)
    months = [m for m in sorted(se.site_totals) if m <= newest]
    newest_first = sorted(months, reverse=True)
    done_months, left = newest_first[:60], sorted(newest_first[60:])
    assert stored(db, "stackoverflow") == expected_so(fake, done_months)
    # newest months first: the months asked go strictly back in time
    asked = [m for _, m in se.asked]
    assert asked == sorted(asked, reverse=True)
    # backoff: the second request waited the 1 s the first answer asked for
    log = fake.log.find(source="stackoverflow")
    assert log[1].received - log[0].received >= 0.95
    assert "stackoverflow: backoff, waiting" in first.stderr
    reason = (
        "Stack Exchange quota exhausted (300 of 300 requests a day used without "
        "TRACKER_STACKEXCHANGE_KEY), run again after "
    )
    span = f"; {len(left)} month(s) {left[0]:%Y-%m}..{left[-1]:%Y-%m} left"
    errors = query(
        db,
        "SELECT tool_id, error FROM run_errors WHERE source = 'stackoverflow' ORDER BY tool_id",
    )
    assert [e[0] for e in errors] == ["airflow", "dagster", "kafka"]
    for _, error in errors:
        assert error.startswith(f"not fully collected: {reason}") and error.endswith(span)
        reset = error[len(f"not fully collected: {reason}") :][: len("2026-12-01T00:00Z")]
        # the next UTC midnight after the run
        assert reset.endswith("T00:00Z") and reset > started.strftime("%Y-%m-%dT%H:%MZ")

    # later the same day, with an app key (10,000 a day): the rest of the backfill, nothing twice
    se.asked.clear()
    fake.log.clear()
    second = run_tracker(
        ["--log-level", "debug", "--log-libraries", "collect", "-s", "stackoverflow", *SO_ARGS],
        {**env, "TRACKER_STACKEXCHANGE_KEY": key},
    )

    assert second.returncode == 0, second.stderr
    complete = _stored_through(fake, db, started)
    missing = [m for m in complete if m not in done_months]  # `left`, plus a month newly complete
    assert f"stackoverflow: ok, 3 tools stored, 0 failed, {3 * len(missing)} rows" in second.stdout
    assert sorted({m for _, m in se.asked}) == missing  # only the months that were missing
    assert len(se.asked) == 5 * len(missing)
    assert all(r.query.count("key=") == 1 for r in fake.log.find(source="stackoverflow"))
    assert stored(db, "stackoverflow") == expected_so(fake, complete)
    # the key never shows: not in the output, the logs (httpx's own lines log every URL), the DB
    assert key not in second.stdout + second.stderr
    assert "key=***" in second.stderr
    assert key.encode() not in db.read_bytes()
    status = run_tracker(["status", "--json"], env)
    rows = {s["source"]: s["rows"] for s in json.loads(status.stdout)["sources"]}
    assert rows["hn"] == 9 and rows["stackoverflow"] == 3 * len(complete)


def test_stackoverflow_throttle_violation_ends_the_source_without_more_requests(
    fake: FakeUpstream, e2e_env: dict[str, str], tmp_path: Path
) -> None:
    started = datetime.now(UTC)
    serve_questions(fake, _month(started))
    fake.stackexchange.quota_max = 50  # the API knows better than our own count (shared IP)
    fake.stackexchange.reset_in = 36_000
    env = _env(e2e_env, tmp_path)

    done = run_tracker(["collect", "-s", "stackoverflow", *SO_ARGS], env)

    assert done.returncode == 1, done.stderr
    log = fake.log.find(source="stackoverflow")
    assert len(log) == 51 and [r.status for r in log].count(400) == 1 and log[-1].status == 400
    db = _db(env)
    newest = max(m for _, m in fake.stackexchange.asked)
    months = [m for m in sorted(fake.stackexchange.site_totals) if m <= newest]
    assert stored(db, "stackoverflow") == expected_so(fake, months[-10:])  # 10 whole months
    errors = query(db, "SELECT DISTINCT error FROM run_errors WHERE source = 'stackoverflow'")
    assert len(errors) == 1
    assert errors[0][0].startswith(
        "not fully collected: Stack Exchange quota exhausted (throttle_violation: too many "
        "requests from this IP, more requests available in 36000 seconds), run again after "
    )
